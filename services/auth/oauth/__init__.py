"""The OAuth 2.0 authorization server of the auth service (seed 001, issue 4).

Developer apps and plugin clients, the authorization endpoint with its login and consent pages, the token endpoint
(authorization_code with PKCE, refresh_token, client_credentials), JWT access tokens (RFC 9068) signed with keys
published at the JWKS endpoint, revocation (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414).
The protocol core (grants, server, authorization) knows nothing of aiohttp; handlers translate.
"""
