"""Wiring the OAuth server into the auth service's application: state, routes and the resources it opens.

It relies on the pool the auth app opens in its own cleanup context (services.auth.keys.POOL), so setup_oauth must
be called after create_app has registered it. Revocations go out through the auth outbox (services/auth/outbox.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from services.auth.config import Config
from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.client_secrets import ClientSecretCipher, OAuthHasher, PrivateKeyCipher
from services.auth.oauth.config import OAuthConfig
from services.auth.oauth.grants import AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant
from services.auth.oauth.keys import OAUTH, OAuthServices
from services.auth.oauth.routes import add_oauth_routes
from services.auth.oauth.server import AuthorizationServer
from services.auth.oauth.sessions import SessionStore
from services.auth.oauth.signing import KeyRing, ensure_signing_key
from services.auth.oauth.tokens import TokenService
from services.auth.throttle import FailedAttemptThrottle
from shared.counters import Counters

log = logging.getLogger(__name__)

PRIVATE_KEY_CIPHER = web.AppKey("oauth_private_key_cipher", PrivateKeyCipher)
EXPIRED_ROWS_PURGE_SECONDS = 600.0


def build_oauth_services(
    config: Config, oauth_config: OAuthConfig, counters: Counters | None = None
) -> tuple[OAuthServices, PrivateKeyCipher]:
    hasher = OAuthHasher(config.secret_pepper.bytes)
    counters = counters if counters is not None else Counters(f"{config.common.bus_prefix}:auth:")
    key_cipher = PrivateKeyCipher(config.encryption_key.bytes)
    keyring = KeyRing(key_cipher, oauth_config.access_token_ttl, oauth_config.key_reload_seconds)
    tokens = TokenService(oauth_config, keyring, hasher)
    server = AuthorizationServer(tokens)
    for grant in (AuthorizationCodeGrant, RefreshTokenGrant, ClientCredentialsGrant):
        server.register_grant(grant)
    services = OAuthServices(
        config=oauth_config,
        hasher=hasher,
        secret_cipher=ClientSecretCipher(config.encryption_key.bytes),
        keyring=keyring,
        tokens=tokens,
        server=server,
        sessions=SessionStore(hasher, oauth_config.session_ttl),
        login_throttle=FailedAttemptThrottle(counters, "login"),
        client_throttle=FailedAttemptThrottle(counters, "oauth_client"),
        principal_key=config.common.signing_key.bytes,
        principal_audience=config.common.service,
    )
    return services, key_cipher


def setup_oauth(
    app: web.Application, config: Config, oauth_config: OAuthConfig, counters: Counters | None = None
) -> None:
    services, key_cipher = build_oauth_services(config, oauth_config, counters)
    app[OAUTH] = services
    app[PRIVATE_KEY_CIPHER] = key_cipher
    app.cleanup_ctx.append(oauth_resources)
    add_oauth_routes(app)


async def oauth_resources(app: web.Application) -> AsyncIterator[None]:
    services = app[OAUTH]
    pool = app[POOL]
    await ensure_signing_key(pool, app[PRIVATE_KEY_CIPHER], services.config.signing_algorithm)
    await services.keyring.load(pool)
    task = asyncio.create_task(_housekeeping(services, pool), name="oauth-housekeeping")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _housekeeping(services: OAuthServices, pool: asyncpg.Pool) -> None:
    """Picks up signing keys rotated by command, and purges expired codes, sessions and tokens."""
    since_purge = 0.0
    interval = float(services.config.key_reload_seconds)
    while True:
        await asyncio.sleep(interval)
        since_purge += interval
        try:
            await services.keyring.load(pool)
            if since_purge >= EXPIRED_ROWS_PURGE_SECONDS:
                since_purge = 0.0
                async with pool.acquire() as conn:
                    await db.delete_expired(conn)
        except (asyncpg.PostgresError, OSError, RuntimeError) as error:  # RuntimeError: no active key right now
            log.warning("oauth housekeeping failed, will retry: %s", type(error).__name__)
