-- The Zalo channel: a notification's ZNS template and parameters, its price
-- when sent, and the time a scheduled one (a reminder) is due; the sending
-- state of each Zalo message and the receipts that came before it.
ALTER TABLE notifications ADD COLUMN zns_template_id TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN zns_data TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN price_vnd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN scheduled_for BIGINT NOT NULL DEFAULT 0;
CREATE INDEX notifications_scheduled ON notifications(scheduled_for) WHERE status = 'scheduled';
CREATE INDEX notifications_usage ON notifications(created_at, service);

CREATE TABLE zns_sends (
	notification_id TEXT PRIMARY KEY REFERENCES notifications(id) ON DELETE CASCADE,
	state           TEXT NOT NULL,
	msg_id          TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	detail          TEXT NOT NULL DEFAULT '',
	first_at        BIGINT NOT NULL DEFAULT 0,
	sent_at         BIGINT NOT NULL DEFAULT 0,
	updated_at      BIGINT NOT NULL
);
CREATE INDEX zns_sends_msg ON zns_sends(msg_id);

CREATE TABLE zns_early_receipts (
	msg_id      TEXT PRIMARY KEY,
	received_at BIGINT NOT NULL,
	created_at  BIGINT NOT NULL
);
