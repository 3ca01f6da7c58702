"""The auth service: owns users, their permissions, API keys, per-user API tokens (Basic) and the audit log,
and verifies credentials for the gateway (POST /internal/verify), announcing every revocation on the bus."""
