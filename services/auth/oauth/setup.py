"""Wiring the OAuth server into the auth service's application: state, routes and the resources it opens.

It relies on what the auth app opens in its own cleanup contexts (the pool at services.auth.keys.POOL and the RabbitMQ
connection at services.auth.keys.BUS), so setup_oauth must be called after create_app has registered them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from services.auth.config import Config
from services.auth.events import RevocationPublisher
from services.auth.keys import BUS, POOL
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
from shared import bus

log = logging.getLogger(__name__)

PRIVATE_KEY_CIPHER = web.AppKey("oauth_private_key_cipher", PrivateKeyCipher)
EXPIRED_ROWS_PURGE_SECONDS = 600.0


def build_oauth_services(config: Config, oauth_config: OAuthConfig) -> tuple[OAuthServices, PrivateKeyCipher]:
    hasher = OAuthHasher(config.secret_pepper.bytes)
    key_cipher = PrivateKeyCipher(config.encryption_key.bytes)
    keyring = KeyRing(key_cipher, oauth_config.access_token_ttl, oauth_config.key_reload_seconds)
    tokens = TokenService(oauth_config, keyring, hasher, publisher=None)
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
        login_throttle=FailedAttemptThrottle(),
        principal_key=config.common.signing_key.bytes,
    )
    return services, key_cipher


def setup_oauth(app: web.Application, config: Config, oauth_config: OAuthConfig) -> None:
    services, key_cipher = build_oauth_services(config, oauth_config)
    app[OAUTH] = services
    app[PRIVATE_KEY_CIPHER] = key_cipher
    app.cleanup_ctx.append(_oauth_resources(config.common.bus_prefix))
    add_oauth_routes(app)


def _oauth_resources(bus_prefix: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def oauth_resources(app: web.Application) -> AsyncIterator[None]:
        services = app[OAUTH]
        pool = app[POOL]
        await ensure_signing_key(pool, app[PRIVATE_KEY_CIPHER], services.config.signing_algorithm)
        await services.keyring.load(pool)
        channel = await bus.open_publisher_channel(app[BUS])
        topology = bus.Topology(bus_prefix)
        await bus.declare_topology(channel, topology)
        services.tokens.publisher = RevocationPublisher(channel, topology)
        task = asyncio.create_task(_housekeeping(services, pool), name="oauth-housekeeping")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        services.tokens.publisher = None
        with contextlib.suppress(Exception):  # the connection may already be closing with the app
            await channel.close()

    return oauth_resources


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
                services.login_throttle.prune()
        except (asyncpg.PostgresError, OSError, RuntimeError) as error:  # RuntimeError: no active key right now
            log.warning("oauth housekeeping failed, will retry: %s", type(error).__name__)
