"""Protocol endpoints: token (RFC 6749 section 3.2), revocation (RFC 7009), introspection (RFC 7662), JWKS and
authorization server metadata (RFC 8414). Thin: read the request, call the server, shape the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.errors import NO_STORE_HEADERS, ClientThrottled, InvalidClient
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.requests import TokenRequest, parse_token_request
from services.auth.oauth.scopes import KNOWN_SCOPES
from services.auth.oauth.web_forms import client_address, form_pairs
from shared.errors import Forbidden
from shared.principal import principal_from_request

T = TypeVar("T")
MAX_CLIENT_ID_LENGTH = 64


def _pool(request: web.Request) -> asyncpg.Pool:
    return request.app[POOL]


async def _client_request(request: web.Request, action: Callable[[TokenRequest], Awaitable[T]]) -> T:
    """Run an endpoint that authenticates the client, with failed client authentication throttled per client id
    and address like failed logins (services/auth/throttle.py)."""
    throttle = request.app[OAUTH].client_throttle
    address = client_address(request)
    try:
        token_request = parse_token_request(await form_pairs(request), request.headers.get("Authorization"))
    except InvalidClient:
        await throttle.record_failure(None, address)
        raise
    client_id = token_request.credentials.client_id[:MAX_CLIENT_ID_LENGTH]
    wait = await throttle.retry_after(client_id, address)
    if wait is not None:
        raise ClientThrottled(wait)
    try:
        return await action(token_request)
    except InvalidClient:
        await throttle.record_failure(client_id, address)
        raise


async def token(request: web.Request) -> web.Response:
    """RFC 6749 section 5.1: the tokens as JSON, never cached."""
    server = request.app[OAUTH].server
    issued = await _client_request(request, lambda body: server.create_token_response(_pool(request), body))
    return web.json_response(issued.body(), headers=NO_STORE_HEADERS)


async def revoke(request: web.Request) -> web.Response:
    """RFC 7009 section 2.2: 200 whether or not the token was known."""
    server = request.app[OAUTH].server
    await _client_request(request, lambda body: server.revoke(_pool(request), body))
    return web.Response(status=200, headers=NO_STORE_HEADERS)


async def introspect(request: web.Request) -> web.Response:
    server = request.app[OAUTH].server
    answer = await _client_request(request, lambda body: server.introspect(_pool(request), body))
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
            "authorization_response_iss_parameter_supported": True,
        },
        headers={"Cache-Control": "public, max-age=300"},
    )


MAX_REVOCATIONS_LISTED = 100_000


async def revocations(request: web.Request) -> web.Response:
    """Everything a gateway must refuse, for one that starts or whose broker connection comes back (events sent while
    it was cut off are lost to it): the revoked access tokens not yet expired, and the users' not-before times that
    may still refuse an unexpired token. Internal callers only. Past the limits, what expires first is left out."""
    principal = principal_from_request(request, request.app[OAUTH].principal_key, request.app[OAUTH].principal_audience)
    if not principal.is_service:
        raise Forbidden("Only an internal service may read the revocation list")
    lifetime = request.app[OAUTH].config.access_token_ttl
    async with _pool(request).acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        tokens = await db.list_revoked_access_tokens(conn, MAX_REVOCATIONS_LISTED)
        users = await db.list_user_not_before(conn, lifetime, MAX_REVOCATIONS_LISTED)
    return web.json_response(
        {
            "revoked": [{"jti": str(row["jti"]), "exp": int(row["expires_at"].timestamp())} for row in tokens],
            "not_before": [
                {
                    "user_id": row["user_id"],
                    "not_before": row["not_before"].timestamp(),
                    "until": int(row["not_before"].timestamp()) + lifetime + 1,
                }
                for row in users
            ],
        },
        headers={"Cache-Control": "no-store"},
    )
