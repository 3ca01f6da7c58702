-- "Create a Developer Account" (seed 001): a user asks to become a developer; where the operator requires it
-- (DEVELOPER_SIGNUP=approval) the request waits here for an admin's decision.
CREATE TABLE developer_requests (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    reason       text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    requested_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined')),
    decided_at   timestamptz,
    decided_by   bigint REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX developer_requests_pending_idx ON developer_requests (requested_at) WHERE status = 'pending';

-- The plugins permissions (plugins:read, :create, :update, :delete) govern the plugin management API and page.
ALTER TABLE permissions DROP CONSTRAINT permissions_resource_check;
ALTER TABLE permissions ADD CONSTRAINT permissions_resource_check
    CHECK (resource IN ('products', 'categories', 'customers', 'orders', 'imports', 'mappers', 'webhooks', 'users',
                        'api_keys', 'apps', 'plugins'));
