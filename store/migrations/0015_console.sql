-- congthu store schema, version 15: the operator console.
-- console_users gives an account a console role ('admin' or 'desk'; no
-- row, or '', is none) and its TOTP second factor: the base32 secret
-- ('' for none) and the last time step used, so a code is accepted once.
CREATE TABLE console_users (
	account_id     BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	role           TEXT NOT NULL DEFAULT '',
	totp_secret    TEXT NOT NULL DEFAULT '',
	totp_last_step BIGINT NOT NULL DEFAULT 0,
	updated_at     BIGINT NOT NULL
);

-- Signed-in console sessions. Only the SHA-256 of the cookie's value is
-- stored (hex), so a read of the database signs nobody in; any node
-- serves any session. last_seen_at drives the idle timeout; stamp is the
-- account's credential stamp at sign-in (Account.CredentialStamp): a
-- password change or a disable moves it, and ends the session.
CREATE TABLE console_sessions (
	token_hash   TEXT PRIMARY KEY,
	account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	remote       TEXT NOT NULL DEFAULT '',
	stamp        BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions(account_id);
CREATE INDEX console_sessions_seen ON console_sessions(last_seen_at);

-- Every change made through the console: who (the account's address,
-- kept as text so the record outlives the account), when, from which
-- client address, what and on what.
CREATE TABLE console_audit (
	id     {{ID}},
	at     BIGINT NOT NULL,
	actor  TEXT NOT NULL,
	remote TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_audit_at ON console_audit(at);
