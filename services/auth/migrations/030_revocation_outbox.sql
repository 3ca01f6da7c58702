-- A transactional outbox for shared.messages.CredentialRevoked: every change that weakens a credential writes its
-- event here in the same transaction, so a committed revocation is never lost to a broker outage or a crash.
-- services/auth/outbox.py publishes the rows in id order, marks them published, and purges them after a day.

CREATE TABLE revocation_outbox (
    id            bigserial PRIMARY KEY,
    body          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX revocation_outbox_pending_idx ON revocation_outbox (id) WHERE published_at IS NULL;
CREATE INDEX revocation_outbox_published_idx ON revocation_outbox (published_at) WHERE published_at IS NOT NULL;
