-- The Webasyst-compatible api.php access point (seed 000): one-time authorization codes and access tokens.
-- Neither table holds a usable secret: codes and tokens are stored as keyed hashes (HMAC-SHA256 under a sub-key of
-- SECRET_PEPPER, services/auth/apiphp/secrets.py). client_id is chosen by the developer (no registration), so it is
-- plain text here, not a reference to oauth_clients.

CREATE TABLE apiphp_tokens (
    id            uuid PRIMARY KEY,
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id     text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    client_name   text NOT NULL CHECK (length(client_name) BETWEEN 1 AND 100),
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX apiphp_tokens_user_idx ON apiphp_tokens (user_id, created_at);

CREATE TABLE apiphp_codes (
    code_hash     bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id     text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 100),
    client_name   text NOT NULL CHECK (length(client_name) BETWEEN 1 AND 100),
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- '' when the request named no redirect_uri (the code is then shown on the page, as Webasyst does).
    redirect_uri  text NOT NULL CHECK (length(redirect_uri) <= 2000),
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    -- The token its exchange issued: revoked when the code is presented again (RFC 6749 section 4.1.2).
    token_id      uuid REFERENCES apiphp_tokens (id) ON DELETE SET NULL
);
CREATE INDEX apiphp_codes_expiry_idx ON apiphp_codes (expires_at);
