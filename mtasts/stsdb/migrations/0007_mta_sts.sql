-- congthu schema, version 7 (mtasts/stsdb): MTA-STS policies of destination domains
-- (RFC 8461), kept across restarts so that a restart opens no window in
-- which a hidden TXT record turns a policy off. body is the policy as
-- served; it applies until fetched_at + its max_age.
CREATE TABLE mta_sts_policies (
	domain     TEXT PRIMARY KEY,
	policy_id  TEXT NOT NULL,
	body       TEXT NOT NULL,
	fetched_at BIGINT NOT NULL
);
