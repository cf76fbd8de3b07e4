-- congthu store schema, version 6: idempotency records are purged after a
-- retention period (api.idempotency_retention), oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
