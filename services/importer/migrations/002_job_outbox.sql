-- A transactional outbox for shared.messages.ImportJobRequested: an upload writes its job and the job's message in
-- one transaction, so a committed job always reaches the jobs queue, even when its replica dies before publishing.
-- shared/outbox.py publishes the rows in id order, marks them published, and purges them after a day.

CREATE TABLE job_outbox (
    id            bigserial PRIMARY KEY,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX job_outbox_pending_idx ON job_outbox (id) WHERE published_at IS NULL;
CREATE INDEX job_outbox_published_idx ON job_outbox (published_at) WHERE published_at IS NOT NULL;

-- Jobs still queued from before were published straight after their commit, or lost if that publish never happened:
-- queue them again. A job delivered twice runs once (the worker locks it and skips a job already finished).
INSERT INTO job_outbox (body)
SELECT jsonb_build_object('kind', 'import.requested', 'version', 1, 'job_id', id::text, 'entity', entity,
                          'mapper_id', mapper_id)
FROM jobs WHERE status = 'queued' ORDER BY created_at, id;
