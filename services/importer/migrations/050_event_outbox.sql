-- A transactional outbox for the end of each import job: shared.messages.ImportJobFinished and the platform events
-- of the run (import.completed or import.failed, product.created and product.updated in slices of ids), written in
-- the transaction that records the job's outcome, so a worker killed between that commit and the publish loses none.
-- shared/outbox.py publishes the rows in id order to the import events exchange, marks them published, and purges
-- them after a day.

CREATE TABLE event_outbox (
    id            bigserial PRIMARY KEY,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX event_outbox_pending_idx ON event_outbox (id) WHERE published_at IS NULL;
CREATE INDEX event_outbox_published_idx ON event_outbox (published_at) WHERE published_at IS NOT NULL;
