"""Builds the gateway's aiohttp application (plain: no network until start-up)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.gateway.cache import PrincipalCache
from services.gateway.config import Config
from services.gateway.cors import CorsPolicy
from services.gateway.handlers import front_door, serve_docs, serve_openapi
from services.gateway.jwt_verifier import JwtVerifier
from services.gateway.keys import (
    AUTH_CLIENT,
    BUS,
    CACHE,
    CONFIG,
    CORS,
    FORWARDER,
    GATEWAY_METRICS,
    JWT_VERIFIER,
    LIMITER,
    REVOCATIONS,
    ROUTE_TABLE,
    SESSION,
    TRANSPORT,
    VERIFIER,
)
from services.gateway.metrics import GatewayMetrics
from services.gateway.proxy import Forwarder
from services.gateway.ratelimit import RateLimiter
from services.gateway.revocations import RevocationConsumer
from services.gateway.routes import ROUTES, RouteTable
from services.gateway.transport import TransportPolicy
from services.gateway.verification import AUTH_AUDIENCE, AuthClient, CredentialVerifier
from shared import bus
from shared.bus import Topology
from shared.errors import error_middleware
from shared.health import add_health_routes
from shared.logs import request_id_middleware
from shared.metrics import METRICS, ServiceMetrics
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from shared.service import connect_with_retry

log = logging.getLogger(__name__)


async def http_clients(app: web.Application) -> AsyncIterator[None]:
    """One pooled client session per app, for the auth service and every backend."""
    config = app[CONFIG]
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=config.upstream_pool_size),
        # Cookies of one client must never be replayed for another.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Bodies pass through as sent: no decompression, no headers the client did not send.
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
    )
    key = config.common.signing_key.bytes
    auth = AuthClient(session, config.auth_url, key, config.verify_timeout)
    app[SESSION] = session
    app[AUTH_CLIENT] = auth
    app[VERIFIER] = CredentialVerifier(auth, app[CACHE], app.get(JWT_VERIFIER))
    app[FORWARDER] = Forwarder(
        session,
        config.upstreams,
        key,
        config.max_body_bytes,
        config.upstream_timeout,
        config.client_body_timeout,
    )
    try:
        yield
    finally:
        await session.close()


async def revocation_events(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    connection = await connect_with_retry(
        "RabbitMQ", lambda: bus.connect(config.common.amqp_url), timeout=config.startup_timeout
    )
    try:
        consumer = RevocationConsumer(
            app[CACHE], app[VERIFIER], Topology(config.common.bus_prefix), app[GATEWAY_METRICS]
        )
        await consumer.start(connection)
        app[BUS] = connection
        app[REVOCATIONS] = consumer
        yield
    finally:
        await connection.close()


async def jwt_keys(app: web.Application) -> AsyncIterator[None]:
    """Reload the JWT revocations a restarted gateway would otherwise have forgotten; close the JWKS client."""
    config, verifier = app[CONFIG], app[JWT_VERIFIER]
    headers = {
        PRINCIPAL_HEADER: sign_principal(Principal.service("gateway"), config.common.signing_key.bytes, AUTH_AUDIENCE)
    }
    try:
        await verifier.load_revocations(f"{config.auth_url}/internal/oauth/revocations", headers)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        # Fail open only on history: tokens revoked before this start stay refused once their event is replayed
        # or once they expire; new revocations arrive over the bus as usual.
        log.warning("could not load JWT revocations from the auth service: %s", type(error).__name__)
    try:
        yield
    finally:
        await verifier.close()


async def rabbitmq_ready(app: web.Application) -> None:
    if app[BUS].is_closed:
        raise ConnectionError("the RabbitMQ connection is down")


async def auth_ready(app: web.Application) -> None:
    await app[AUTH_CLIENT].check_health()


def create_app(config: Config) -> web.Application:
    metrics = ServiceMetrics(config.common.service)
    app = web.Application(middlewares=[request_id_middleware, metrics.middleware, error_middleware])
    app[CONFIG] = config
    app[METRICS] = metrics
    app[ROUTE_TABLE] = RouteTable(ROUTES)
    app[CACHE] = PrincipalCache(config.verify_cache_size, config.verify_cache_max_age)
    app[GATEWAY_METRICS] = GatewayMetrics(metrics, app[CACHE])
    app[LIMITER] = RateLimiter(config.rate_limit_window)
    app[TRANSPORT] = TransportPolicy(config.trusted_proxies, config.allow_insecure_http)
    app[CORS] = CorsPolicy(config.cors_origins)
    app[JWT_VERIFIER] = JwtVerifier(
        f"{config.auth_url}/.well-known/jwks.json", config.oauth_issuer, config.oauth_audience
    )
    app.cleanup_ctx.append(http_clients)
    app.cleanup_ctx.append(revocation_events)
    app.cleanup_ctx.append(jwt_keys)
    add_health_routes(app, {"rabbitmq": rabbitmq_ready, "auth": auth_ready})
    app.router.add_get("/openapi.json", serve_openapi)
    app.router.add_get("/docs", serve_docs)
    app.router.add_route("*", "/{path:.*}", front_door)
    return app
