"""Protocol endpoints: token (RFC 6749 section 3.2), revocation (RFC 7009), introspection (RFC 7662), JWKS and
authorization server metadata (RFC 8414). Thin: read the request, call the server, shape the answer."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.errors import NO_STORE_HEADERS
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.requests import TokenRequest, parse_token_request
from services.auth.oauth.scopes import KNOWN_SCOPES
from services.auth.oauth.web_forms import form_pairs
from shared.errors import Forbidden
from shared.principal import principal_from_request


def _pool(request: web.Request) -> asyncpg.Pool:
    return request.app[POOL]


async def _token_request(request: web.Request) -> TokenRequest:
    return parse_token_request(await form_pairs(request), request.headers.get("Authorization"))


async def token(request: web.Request) -> web.Response:
    """RFC 6749 section 5.1: the tokens as JSON, never cached."""
    oauth = request.app[OAUTH]
    issued = await oauth.server.create_token_response(_pool(request), await _token_request(request))
    return web.json_response(issued.body(), headers=NO_STORE_HEADERS)


async def revoke(request: web.Request) -> web.Response:
    """RFC 7009 section 2.2: 200 whether or not the token was known."""
    await request.app[OAUTH].server.revoke(_pool(request), await _token_request(request))
    return web.Response(status=200, headers=NO_STORE_HEADERS)


async def introspect(request: web.Request) -> web.Response:
    answer = await request.app[OAUTH].server.introspect(_pool(request), await _token_request(request))
    return web.json_response(answer, headers=NO_STORE_HEADERS)


async def jwks(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    await oauth.keyring.refresh_if_stale(_pool(request))
    return web.json_response(oauth.keyring.jwks, headers={"Cache-Control": "public, max-age=60"})


async def metadata(request: web.Request) -> web.Response:
    oauth = request.app[OAUTH]
    config = oauth.config
    return web.json_response(
        {
            "issuer": config.issuer,
            **config.endpoints,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(oauth.server.grant_types),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": sorted(KNOWN_SCOPES),
            "authorization_response_iss_parameter_supported": False,
        },
        headers={"Cache-Control": "public, max-age=300"},
    )


MAX_REVOCATIONS_LISTED = 100_000


async def revocations(request: web.Request) -> web.Response:
    """The revoked access tokens that have not expired yet, for a gateway that (re)starts: internal callers only."""
    principal = principal_from_request(request, request.app[OAUTH].principal_key, request.app[OAUTH].principal_audience)
    if not principal.is_service:
        raise Forbidden("Only an internal service may read the revocation list")
    async with _pool(request).acquire() as conn:
        rows = await db.list_revoked_access_tokens(conn, MAX_REVOCATIONS_LISTED)
    return web.json_response(
        {"revoked": [{"jti": str(row["jti"]), "exp": int(row["expires_at"].timestamp())} for row in rows]}
    )
