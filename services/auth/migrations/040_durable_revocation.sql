-- Revocation that survives restarts and broker outages, and token families with an absolute lifetime.

-- When a user's rights are weakened (deactivated, permissions or admin rights removed), every OAuth token of theirs
-- issued before this time is refused: by the gateways (which load these rows when they start and when their broker
-- connection comes back) and by introspection. Set from the database's clock, the clock token issuance also reads.
CREATE TABLE oauth_user_not_before (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    not_before  timestamptz NOT NULL,
    reason      text NOT NULL CHECK (length(reason) <= 64)
);
CREATE INDEX oauth_user_not_before_time_idx ON oauth_user_not_before (not_before);

-- Rotation hands a family new refresh tokens, never a longer life: each one expires by its family's end at the latest.
ALTER TABLE oauth_refresh_tokens ADD COLUMN family_expires_at timestamptz;
UPDATE oauth_refresh_tokens SET family_expires_at = expires_at;
ALTER TABLE oauth_refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
