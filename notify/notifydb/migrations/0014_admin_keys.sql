-- API keys that see every service's usage (GET /v1/usage).
ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
