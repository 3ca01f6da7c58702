-- Idempotency-Key of POST /api/import: a retried upload (after a dropped connection) with the same key from the
-- same owner answers the first job instead of starting a second one. Keys are scoped per owner (user:<id>,
-- client:<id>) and kept for a day; an older key is free again.
CREATE TABLE idempotency_keys (
    owner       text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_job_idx ON idempotency_keys (job_id);
