-- congthu store schema, version 8: notification emails are composed when
-- delivered, not when accepted. The notification row already holds the
-- rendered subject, text and HTML; these columns hold the rest of what the
-- message is built from, as the API decided it (the sender can change in
-- the configuration before a retry). The outbox entry of such an email
-- points at an empty blob: the dispatcher asks the notification tracker to
-- compose it (dispatcher.Tracker.Compose). Entries queued before this
-- version keep their composed bytes and are sent as they are.
ALTER TABLE notifications ADD COLUMN email_from TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN email_from_name TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN to_name TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN reply_to TEXT NOT NULL DEFAULT '';
