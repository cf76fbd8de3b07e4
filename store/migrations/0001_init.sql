-- congthu store schema, version 1.
-- Tokens: {{ID}} is an auto-increment primary key, {{BLOB}} a byte string,
-- {{NOW}} the Unix time when the migration runs. Times are integer
-- microseconds since the Unix epoch on both backends.

-- Global counters. "uidvalidity" hands out UIDVALIDITY values: one counter
-- for all mailboxes so a value is never reused, not even after a mailbox is
-- deleted and re-created; it starts at the current Unix time so it stays
-- monotonic across a wipe of the database.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('uidvalidity', {{NOW}});

CREATE TABLE domains (
	name             TEXT PRIMARY KEY,
	created_at       BIGINT NOT NULL,
	dkim_selector    TEXT NOT NULL DEFAULT '',
	dkim_private_key {{BLOB}}
);

CREATE TABLE accounts (
	id                  {{ID}},
	address             TEXT NOT NULL UNIQUE,
	domain              TEXT NOT NULL REFERENCES domains(name),
	display_name        TEXT NOT NULL DEFAULT '',
	password_hash       TEXT NOT NULL,
	disabled            INTEGER NOT NULL DEFAULT 0,
	created_at          BIGINT NOT NULL,
	password_changed_at BIGINT NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain);

CREATE TABLE aliases (
	address    TEXT PRIMARY KEY,
	domain     TEXT NOT NULL REFERENCES domains(name),
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	created_at BIGINT NOT NULL
);
CREATE INDEX aliases_account ON aliases(account_id);
CREATE INDEX aliases_domain ON aliases(domain);

-- Mailboxes. uidnext and highest_modseq are bumped with one UPDATE ...
-- RETURNING per delivery batch: the row lock serializes UID allocation per
-- mailbox across processes, and nothing reads the existing UIDs.
CREATE TABLE mailboxes (
	id               {{ID}},
	account_id       BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name             TEXT NOT NULL,
	special_use      TEXT NOT NULL DEFAULT '',
	uidvalidity      BIGINT NOT NULL,
	uidnext          BIGINT NOT NULL DEFAULT 1,
	highest_modseq   BIGINT NOT NULL DEFAULT 1,
	first_recent_uid BIGINT NOT NULL DEFAULT 1,
	created_at       BIGINT NOT NULL,
	UNIQUE (account_id, name)
);

-- Subscriptions are names, not mailboxes: a name may be subscribed without
-- existing (RFC 9051 6.3.7).
CREATE TABLE subscriptions (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
);

-- Message bytes, once per accepted message, shared by all its copies and
-- its outbox entry. body_text is mailtext.BodyText of raw, for SEARCH.
CREATE TABLE blobs (
	id         {{ID}},
	raw        {{BLOB}} NOT NULL,
	size       BIGINT NOT NULL,
	header_len INTEGER NOT NULL,
	body_text  TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);

-- A message in a mailbox. flags is a bitmask of the system flags
-- (1 \Seen, 2 \Answered, 4 \Flagged, 8 \Deleted, 16 \Draft); keywords are
-- space-separated. size is copied from the blob so STATUS needs no join.
CREATE TABLE messages (
	mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           BIGINT NOT NULL,
	blob_id       BIGINT NOT NULL REFERENCES blobs(id),
	modseq        BIGINT NOT NULL,
	internal_date BIGINT NOT NULL,
	flags         INTEGER NOT NULL DEFAULT 0,
	keywords      TEXT NOT NULL DEFAULT '',
	size          BIGINT NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);
CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE (flags & 1) = 0;
CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE (flags & 8) <> 0;

-- Keywords ever used in a mailbox, for the IMAP FLAGS response.
CREATE TABLE mailbox_keywords (
	mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	keyword    TEXT NOT NULL,
	PRIMARY KEY (mailbox_id, keyword)
);

-- Expunged UIDs with the modseq of their expunge, for QRESYNC-style
-- change tracking (ChangesSince).
CREATE TABLE expunged (
	mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        BIGINT NOT NULL,
	modseq     BIGINT NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

-- Mail for other domains: one row per accepted message, one per recipient.
CREATE TABLE outbox (
	id         {{ID}},
	blob_id    BIGINT NOT NULL REFERENCES blobs(id),
	mail_from  TEXT NOT NULL,
	size       BIGINT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX outbox_blob ON outbox(blob_id);

CREATE TABLE outbox_recipients (
	outbox_id       BIGINT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
	address         TEXT NOT NULL,
	status          TEXT NOT NULL DEFAULT 'queued',
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	updated_at      BIGINT NOT NULL,
	PRIMARY KEY (outbox_id, address)
);
CREATE INDEX outbox_recipients_due ON outbox_recipients(next_attempt_at, outbox_id) WHERE status = 'queued';
