-- congthu store schema, version 4: the IMAP ENVELOPE of each message,
-- computed once when the bytes are stored (congthu/imapd/envelope's
-- compact encoding), so FETCH ENVELOPE over a large mailbox does not parse
-- every header again. NULL for messages stored before this version: the
-- store computes those on first read and writes them back.
ALTER TABLE blobs ADD COLUMN envelope {{BLOB}};
