"""The OAuth 2.0 authorization server of the auth service (docs/oauth.md).

Endpoints (public through the gateway unless marked):
    GET  /auth/oauth/authorize            authorization endpoint (RFC 6749 4.1.1): login page, then consent page
    POST /auth/oauth/authorize            the consent form (allow -> code & state, deny -> error=access_denied)
    GET  /auth/login, POST /auth/login    sign-in page of the authorization flow; POST /auth/logout
    GET  /auth/authorizations             page of the apps the user authorized, with revoke (POST .../revoke)
    POST /auth/oauth/token                token endpoint: authorization_code (+PKCE S256), refresh_token (rotating),
                                          client_credentials; client_secret_basic, client_secret_post, none (public)
    POST /auth/oauth/revoke               RFC 7009;  POST /auth/oauth/introspect  RFC 7662
    GET  /.well-known/jwks.json           signing keys (RFC 7517)
    GET  /.well-known/oauth-authorization-server   metadata (RFC 8414)
    /api/apps[/{client_id}[/secret/rotate]]   developer apps (protected: apps:read/create/update/delete)
    /api/authorizations[/{client_id}]     the caller's authorized apps, DELETE or POST .../revoke withdraws one
    GET  /internal/oauth/revocations      revoked, unexpired jtis and users' not-before times, for a gateway that
                                          starts or reconnects to the bus (service principal only)
Access tokens are JWTs (RFC 9068, typ at+jwt, ES256 by default) with a `permissions` claim; the gateway verifies
them locally (services/gateway/jwt_verifier.py). The protocol core (authorization, grants, server) knows nothing of
aiohttp; the *_handlers modules translate. Commands: python -m services.auth.oauth.cli (register-plugin,
rotate-signing-key) and python -m services.auth.oauth.plugin_runner.
"""
