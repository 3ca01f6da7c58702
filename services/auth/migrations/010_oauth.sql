-- OAuth 2.0 authorization server (issue 4): developer apps, consents, codes, refresh tokens, issued access tokens,
-- signing keys and sign-in sessions of the login/consent pages.
-- No column holds a usable secret in clear: client secrets, codes, refresh tokens and session ids are stored as keyed
-- hashes; the client secret also as AES-256-GCM ciphertext under a split-knowledge key (services/auth/oauth/
-- client_secrets.py); private signing keys as AES-256-GCM ciphertext under a key derived from ENCRYPTION_KEY.

-- A user who registered as a developer. secret_key is the per-user half of the split-knowledge key that encrypts the
-- user's client secrets: useless without the server's ENCRYPTION_KEY, which is useless without it.
CREATE TABLE oauth_developers (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_key  bytea NOT NULL CHECK (length(secret_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_clients (
    client_id            text PRIMARY KEY CHECK (length(client_id) BETWEEN 8 AND 64),
    owner_user_id        bigint NOT NULL REFERENCES oauth_developers (user_id) ON DELETE CASCADE,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind                 text NOT NULL DEFAULT 'app' CHECK (kind IN ('app', 'plugin')),
    is_confidential      boolean NOT NULL,
    redirect_uris        text[] NOT NULL DEFAULT '{}',
    scopes               text[] NOT NULL,
    grant_types          text[] NOT NULL,
    -- What a client-credentials token of this client may do (granted by its owner, never more than the owner has).
    granted_permissions  text[] NOT NULL DEFAULT '{}',
    secret_hash          bytea CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    secret_encrypted     bytea,
    secret_rotated_at    timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (is_confidential = (secret_hash IS NOT NULL))
);
CREATE INDEX oauth_clients_owner_idx ON oauth_clients (owner_user_id, created_at);
-- The plugin runner finds a plugin's client by its name.
CREATE UNIQUE INDEX oauth_clients_plugin_name_key ON oauth_clients (lower(name)) WHERE kind = 'plugin';

-- What a user allowed an app to do (the "authorized apps" list); revoking it revokes every token of the pair.
CREATE TABLE oauth_consents (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE oauth_codes (
    code_hash           bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id           text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri        text NOT NULL,
    redirect_uri_given  boolean NOT NULL,
    scopes              text[] NOT NULL,
    code_challenge      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz,
    -- The token family its exchange started: revoked when the code is presented again (RFC 6749 section 4.1.2).
    family_id           uuid
);
CREATE INDEX oauth_codes_expiry_idx ON oauth_codes (expires_at);

CREATE TABLE oauth_refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    family_id   uuid NOT NULL,
    client_id   text NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX oauth_refresh_tokens_family_idx ON oauth_refresh_tokens (family_id);
CREATE INDEX oauth_refresh_tokens_user_client_idx ON oauth_refresh_tokens (user_id, client_id);

-- Every JWT issued, by jti: what revocation needs to find (no foreign key, so a deleted client's revoked tokens
-- stay listed until they expire).
CREATE TABLE oauth_access_tokens (
    jti         uuid PRIMARY KEY,
    family_id   uuid,
    client_id   text NOT NULL,
    user_id     bigint,
    scopes      text[] NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX oauth_access_tokens_family_idx ON oauth_access_tokens (family_id) WHERE family_id IS NOT NULL;
CREATE INDEX oauth_access_tokens_user_client_idx ON oauth_access_tokens (user_id, client_id);
CREATE INDEX oauth_access_tokens_client_idx ON oauth_access_tokens (client_id);
CREATE INDEX oauth_access_tokens_revoked_idx ON oauth_access_tokens (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE oauth_signing_keys (
    kid                    text PRIMARY KEY CHECK (length(kid) <= 64),
    algorithm              text NOT NULL CHECK (algorithm IN ('ES256', 'RS256')),
    private_key_encrypted  bytea NOT NULL,
    public_jwk             jsonb NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    -- No longer signs; stays in the JWKS until retired_at + the access-token lifetime.
    retired_at             timestamptz
);
CREATE UNIQUE INDEX oauth_signing_keys_one_active_key ON oauth_signing_keys ((true)) WHERE retired_at IS NULL;

-- Sign-in sessions of the login and consent pages; user_id is NULL until the visitor signs in.
CREATE TABLE oauth_sessions (
    id_hash     bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id     bigint REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX oauth_sessions_expiry_idx ON oauth_sessions (expires_at);
