-- Subscriptions, the events they were sent, each delivery (one message to one subscription, one webhook-id) and
-- each attempt of it (the delivery log).
CREATE TABLE subscriptions (
    id                    uuid PRIMARY KEY,
    owner_user_id         bigint NOT NULL,
    owner_name            text NOT NULL CHECK (length(owner_name) <= 200),
    -- The OAuth client that created it, when an app did.
    created_by_client     text CHECK (length(created_by_client) <= 200),
    url                   text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    events                text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 32),
    description           text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    active                boolean NOT NULL DEFAULT true,
    -- AES-GCM (nonce || ciphertext) of the signing secret, bound to the subscription's id.
    secret_encrypted      bytea NOT NULL,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    disabled_reason       text,
    disabled_at           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_owner_idx ON subscriptions (owner_user_id, created_at);
CREATE INDEX subscriptions_events_idx ON subscriptions USING gin (events) WHERE active;

CREATE TABLE events (
    id                text PRIMARY KEY CHECK (length(id) <= 200),
    type              text NOT NULL,
    -- The exact JSON body every delivery of the event sends (and signs).
    payload           text NOT NULL,
    permission        text NOT NULL,
    -- NULL: anyone holding the permission may see it; otherwise these users and admins.
    audience          bigint[],
    received_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_received_idx ON events (received_at);

CREATE TABLE deliveries (
    id               text PRIMARY KEY CHECK (length(id) <= 64),
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'refused')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, created_at DESC, id);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_event_idx ON deliveries (event_id);
CREATE INDEX deliveries_finished_idx ON deliveries (updated_at) WHERE status <> 'pending';

CREATE TABLE attempts (
    delivery_id       text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt           integer NOT NULL,
    attempted_at      timestamptz NOT NULL,
    outcome           text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'refused')),
    status_code       integer,
    duration_ms       integer NOT NULL,
    error             text CHECK (length(error) <= 500),
    response_excerpt  text CHECK (length(response_excerpt) <= 1000),
    PRIMARY KEY (delivery_id, attempt)
);
