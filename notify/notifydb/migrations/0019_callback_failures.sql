-- congthu schema, version 19: the callbacks whose last attempt failed, newest
-- first, for the console's services page. Without it, listing a
-- service's last failures read every status event of the service and
-- looked each one's callback up (60-70 ms at 100,000 notifications,
-- growing with them); failures are few, and this index holds only them.
CREATE INDEX notification_callbacks_failed ON notification_callbacks(updated_at, event_id) WHERE last_error <> '';
