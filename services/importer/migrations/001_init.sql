-- Mappers, import jobs, their uploaded bytes and their row errors.
CREATE TABLE mappers (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    entity      text NOT NULL,
    name        text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id                 uuid PRIMARY KEY,
    entity             text NOT NULL,
    mapper_id          text NOT NULL,
    -- The mapper as it was at upload: editing a mapper never changes a job already queued.
    mapper_definition  jsonb NOT NULL,
    status             text NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    policy             text NOT NULL DEFAULT 'skip' CHECK (policy IN ('skip', 'all_or_nothing')),
    file_name          text NOT NULL DEFAULT '' CHECK (length(file_name) <= 255),
    size_bytes         bigint NOT NULL DEFAULT 0,
    rows_total         bigint,
    rows_done          bigint NOT NULL DEFAULT 0,
    imported           bigint NOT NULL DEFAULT 0,
    updated            bigint NOT NULL DEFAULT 0,
    failed             bigint NOT NULL DEFAULT 0,
    attempts           integer NOT NULL DEFAULT 0,
    error              text,
    requested_by       text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz
);
CREATE INDEX jobs_requested_by_idx ON jobs (requested_by, created_at DESC);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC);

-- The upload, stored durably in PostgreSQL so any replica's worker can read it (no shared volume).
CREATE TABLE upload_chunks (
    -- Deferred: the file part may arrive before the form fields that say which job it is for.
    job_id  uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq     integer NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE row_errors (
    job_id   uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    row_no   bigint NOT NULL,
    ord      integer NOT NULL,
    "column" text,
    value    text,
    message  text NOT NULL,
    PRIMARY KEY (job_id, ord)
);
