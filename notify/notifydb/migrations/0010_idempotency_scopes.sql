-- congthu store schema, version 10: the test and live API keys of a
-- service have separate idempotency scopes. Before, an event_id (or
-- Idempotency-Key) used first by a test key made the live request with the
-- same key a replay of the test response (nothing was sent), and a test
-- key could replay a live response. The key now includes whether the
-- request was made with a test key. Records kept from before are put in
-- the scope of the key that made them: a response of test notifications
-- always holds "test":true (JSON escapes quotes inside strings, so no
-- value can spell it), a live one never does. The response is a BLOB:
-- PostgreSQL matches LIKE on bytea itself (and its text cast is hex, which
-- never matches), SQLite only on the text cast (LIKE on a BLOB is false).
CREATE TABLE idempotency_keys_scoped (
	service      TEXT NOT NULL,
	test         INTEGER NOT NULL DEFAULT 0,
	idem_key     TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status_code  INTEGER NOT NULL,
	response     {{BLOB}} NOT NULL,
	created_at   BIGINT NOT NULL,
	PRIMARY KEY (service, test, idem_key)
);
INSERT INTO idempotency_keys_scoped (service, test, idem_key, request_hash, status_code, response, created_at)
	SELECT service, CASE WHEN response LIKE '%"test":true%' OR CAST(response AS TEXT) LIKE '%"test":true%' THEN 1 ELSE 0 END, idem_key, request_hash, status_code, response, created_at
	FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
