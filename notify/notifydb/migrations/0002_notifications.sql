-- congthu store schema, version 2: dossier notifications (issue 5).
-- API services and their keys, notifications with their rendered content,
-- status events (the monotonic cursor of /v1/events and callbacks), the
-- callbacks still to deliver, and idempotency records. Times are integer
-- microseconds since the Unix epoch, as in 0001.

-- A calling service (a back office). The callback secret is kept in clear:
-- it is needed to sign every callback (HMAC), unlike API keys.
CREATE TABLE api_services (
	name            TEXT PRIMARY KEY,
	callback_url    TEXT NOT NULL DEFAULT '',
	callback_secret TEXT NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL
);

-- API keys: only the SHA-256 of the key is stored (the key is 256 random
-- bits, so a fast hash is enough); hint is a short prefix for listings.
CREATE TABLE api_keys (
	id         {{ID}},
	service    TEXT NOT NULL REFERENCES api_services(name),
	key_hash   TEXT NOT NULL UNIQUE,
	hint       TEXT NOT NULL,
	test       INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_service ON api_keys(service);

-- One message to one recipient on one channel. id is a UUIDv7 (text), so
-- ordering by id is ordering by creation. outbox_id links a live email to
-- the outbox entry that carries it (no foreign key: the outbox row is
-- removed once delivered, the link stays for the record).
CREATE TABLE notifications (
	id               TEXT PRIMARY KEY,
	service          TEXT NOT NULL REFERENCES api_services(name),
	test             INTEGER NOT NULL DEFAULT 0,
	channel          TEXT NOT NULL,
	template_id      TEXT NOT NULL,
	template_version INTEGER NOT NULL,
	recipient        TEXT NOT NULL,
	reference        TEXT NOT NULL DEFAULT '',
	dossier_code     TEXT NOT NULL DEFAULT '',
	event_id         TEXT NOT NULL DEFAULT '',
	dossier_status   TEXT NOT NULL DEFAULT '',
	subject          TEXT NOT NULL DEFAULT '',
	body_text        TEXT NOT NULL DEFAULT '',
	body_html        TEXT NOT NULL DEFAULT '',
	sms_text         TEXT NOT NULL DEFAULT '',
	sms_encoding     TEXT NOT NULL DEFAULT '',
	sms_parts        INTEGER NOT NULL DEFAULT 0,
	status           TEXT NOT NULL,
	status_detail    TEXT NOT NULL DEFAULT '',
	outbox_id        BIGINT,
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL,
	sent_at          BIGINT NOT NULL DEFAULT 0,
	completed_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notifications_service ON notifications(service, id);
CREATE INDEX notifications_reference ON notifications(service, reference, id);
CREATE INDEX notifications_dossier ON notifications(service, dossier_code, id);
CREATE INDEX notifications_outbox ON notifications(outbox_id);
CREATE INDEX notifications_pending ON notifications(created_at) WHERE status IN ('created', 'sending');

-- Every status a notification took, in commit order: id is the cursor of
-- GET /v1/events and of callbacks (see SetNotificationStatus for how it
-- stays monotonic on PostgreSQL).
CREATE TABLE notification_events (
	id              {{ID}},
	notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
	service         TEXT NOT NULL,
	status          TEXT NOT NULL,
	detail          TEXT NOT NULL DEFAULT '',
	at              BIGINT NOT NULL,
	created_at      BIGINT NOT NULL
);
CREATE INDEX notification_events_notification ON notification_events(notification_id, id);
CREATE INDEX notification_events_service ON notification_events(service, id);

-- Callbacks to deliver: one per status event of a service with a callback
-- URL (except "created"). state: pending, done, failed.
CREATE TABLE notification_callbacks (
	event_id        BIGINT PRIMARY KEY REFERENCES notification_events(id) ON DELETE CASCADE,
	state           TEXT NOT NULL DEFAULT 'pending',
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	updated_at      BIGINT NOT NULL
);
CREATE INDEX notification_callbacks_due ON notification_callbacks(next_attempt_at, event_id) WHERE state = 'pending';

-- Idempotency: the first response to a (service, key), replayed for the
-- same request (request_hash) and refused (409) for a different one.
CREATE TABLE idempotency_keys (
	service      TEXT NOT NULL,
	idem_key     TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status_code  INTEGER NOT NULL,
	response     {{BLOB}} NOT NULL,
	created_at   BIGINT NOT NULL,
	PRIMARY KEY (service, idem_key)
);
