-- congthu schema, version 16: indexes for the operator console. The
-- desk looks notifications up by recipient (an email address or an E.164
-- number) and by dossier code across every service; the dashboard counts
-- what was created, and measures what completed, in the last days.
CREATE INDEX notifications_recipient ON notifications(recipient, id);
CREATE INDEX notifications_dossier_any ON notifications(dossier_code, id);
CREATE INDEX notifications_created ON notifications(created_at, channel, status);
CREATE INDEX notifications_completed ON notifications(completed_at, channel, status, created_at);
