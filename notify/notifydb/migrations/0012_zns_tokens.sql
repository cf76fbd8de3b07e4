-- congthu store schema, version 12: the Zalo Official Account's token
-- pair. The refresh token is single-use and rotates on every refresh, so
-- the newest pair is stored before its access token is used; a node
-- refreshes only while it holds the lease (lease_owner until lease_until,
-- microseconds), so one node refreshes at a time across a cluster. quota_*
-- is what Zalo last reported of the OA's daily quota (-1: never).
CREATE TABLE zns_tokens (
	app_id          TEXT PRIMARY KEY,
	access_token    TEXT NOT NULL DEFAULT '',
	refresh_token   TEXT NOT NULL DEFAULT '',
	expires_at      BIGINT NOT NULL DEFAULT 0,
	refreshed_at    BIGINT NOT NULL DEFAULT 0,
	lease_owner     TEXT NOT NULL DEFAULT '',
	lease_until     BIGINT NOT NULL DEFAULT 0,
	quota_daily     INTEGER NOT NULL DEFAULT -1,
	quota_remaining INTEGER NOT NULL DEFAULT -1,
	quota_at        BIGINT NOT NULL DEFAULT 0
);
