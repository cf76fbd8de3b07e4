-- congthu schema, version 18: the usage index covers what Usage adds up
-- (the console's dashboard reads this month's spend on every view), so a
-- month of notifications is read from the index alone, not from the wide
-- rows. It replaces notifications_usage (created_at, service), which it
-- extends.
DROP INDEX notifications_usage;
CREATE INDEX notifications_usage_cover ON notifications(created_at, test, service, channel, status, price_vnd, id);
