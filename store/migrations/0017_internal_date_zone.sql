-- congthu store schema, version 17: the time zone of each message's
-- INTERNALDATE. internal_date is an instant (microseconds since 1970,
-- UTC); internal_zone is the UTC offset in seconds it was given with (the
-- date-time of APPEND, the server's zone at delivery), so that FETCH
-- INTERNALDATE shows it as given and SEARCH BEFORE/ON/SINCE take its date
-- in that zone (RFC 3501 section 6.4.4, as Dovecot reads it). Messages
-- stored before keep offset 0 (UTC), which FETCH showed them in.
ALTER TABLE messages ADD COLUMN internal_zone INTEGER NOT NULL DEFAULT 0;
