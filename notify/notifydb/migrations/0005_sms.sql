-- congthu store schema, version 5: the live SMS channel (issue 6) and the
-- email → SMS fallback of dossier events (issue 5, item 6). Times are
-- integer microseconds since the Unix epoch, as in 0001.

-- urgent: the SMS bypasses quiet hours (API field "urgent").
ALTER TABLE notifications ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;

-- The sending state of one live SMS, kept apart from the notification's
-- status so that a retry knows what happened before it:
--   submitting  written before the provider is asked; found again at the
--               start of a run, it means the previous run died mid-send
--               (outcome unknown)
--   accepted    the provider accepted every part (ids in sms_message_ids)
--   not-sent    the provider provably did not take it (temporary failure)
--   unknown     the request reached the provider but no answer came back
-- attempts counts submissions; resends counts resends after an unknown
-- outcome (at most one).
CREATE TABLE sms_sends (
	notification_id TEXT PRIMARY KEY REFERENCES notifications(id) ON DELETE CASCADE,
	state           TEXT NOT NULL,
	provider        TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	resends         INTEGER NOT NULL DEFAULT 0,
	detail          TEXT NOT NULL DEFAULT '',
	updated_at      BIGINT NOT NULL
);

-- Provider message ids ↔ notifications: one row per accepted part, keyed by
-- the provider's name and the id in smpp.NormalizeMessageID form, so a
-- receipt that arrives after a restart still finds its notification.
-- state: pending, delivered, temporary-failure, permanent-failure.
CREATE TABLE sms_message_ids (
	provider        TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	notification_id TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
	part            INTEGER NOT NULL,
	state           TEXT NOT NULL DEFAULT 'pending',
	receipt_status  TEXT NOT NULL DEFAULT '',
	updated_at      BIGINT NOT NULL,
	PRIMARY KEY (provider, message_id)
);
CREATE INDEX sms_message_ids_notification ON sms_message_ids(notification_id);

-- Receipts that came before their submit was recorded (an SMSC that sends
-- the receipt right after submit_sm_resp): applied when the ids are
-- recorded. message_id is one of the receipt id's forms (hex/decimal).
CREATE TABLE sms_early_receipts (
	provider       TEXT NOT NULL,
	message_id     TEXT NOT NULL,
	state          TEXT NOT NULL,
	receipt_status TEXT NOT NULL DEFAULT '',
	created_at     BIGINT NOT NULL,
	PRIMARY KEY (provider, message_id)
);

-- The SMS variant of a dossier event's email, rendered when the event was
-- accepted, sent only if that email fails permanently and no SMS of the
-- event was sent. sms_notification_id is the SMS notification created
-- ('' until then).
CREATE TABLE sms_fallbacks (
	notification_id     TEXT PRIMARY KEY REFERENCES notifications(id) ON DELETE CASCADE,
	phone               TEXT NOT NULL,
	template_id         TEXT NOT NULL,
	template_version    INTEGER NOT NULL,
	body_text           TEXT NOT NULL DEFAULT '',
	sms_text            TEXT NOT NULL,
	sms_encoding        TEXT NOT NULL,
	sms_parts           INTEGER NOT NULL,
	sms_notification_id TEXT NOT NULL DEFAULT '',
	created_at          BIGINT NOT NULL
);
