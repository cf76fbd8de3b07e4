-- congthu store schema, version 11: per-account storage quotas.
-- quota is the account's own limit in bytes: NULL when none is set (the
-- configured default applies), 0 for unlimited. used is the sum of the
-- sizes of the account's messages, kept by every transaction that adds or
-- removes messages (a copy counts again, as in IMAP QUOTA's STORAGE,
-- RFC 9208 section 5.1), so that checking a delivery against the quota
-- reads one row instead of summing a mailbox.
ALTER TABLE accounts ADD COLUMN quota BIGINT;
ALTER TABLE accounts ADD COLUMN used BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET used = (
	SELECT COALESCE(SUM(m.size), 0) FROM messages m
	JOIN mailboxes b ON b.id = m.mailbox_id
	WHERE b.account_id = accounts.id);
