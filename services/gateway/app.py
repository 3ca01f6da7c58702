"""Builds the gateway's aiohttp application (plain: no network until start-up)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.gateway.breaker import AuthBreaker
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
    COUNTERS,
    FORWARDER,
    GATEWAY_METRICS,
    JWT_VERIFIER,
    LIMITER,
    REVOCATION_SYNC,
    REVOCATIONS,
    ROUTE_TABLE,
    SESSION,
    TRANSPORT,
    VERIFIER,
)
from services.gateway.metrics import GatewayMetrics
from services.gateway.proxy import Forwarder
from services.gateway.ratelimit import RateLimiter
from services.gateway.revocations import RevocationConsumer, RevocationSync
from services.gateway.routes import ROUTES, RouteTable
from services.gateway.transport import TransportPolicy
from services.gateway.verification import AUTH_AUDIENCE, AuthClient, CredentialVerifier
from shared import bus
from shared.bus import Topology
from shared.counters import Counters, redis_counters
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
    breaker = AuthBreaker(
        auth.check_health,
        threshold=config.verify_breaker_threshold,
        probe_interval=config.verify_breaker_probe_interval,
    )
    app[VERIFIER] = CredentialVerifier(auth, app[CACHE], app.get(JWT_VERIFIER), breaker)
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
        await breaker.close()
        await session.close()


async def shared_counters(app: web.Application) -> AsyncIterator[None]:
    """Rate limits counted in Redis when REDIS_URL is set (connected and scripts loaded at start-up; a Redis
    that is down only means memory counting until it answers)."""
    url = app[CONFIG].redis_url
    async with redis_counters(app[COUNTERS], url.value if url is not None else None):
        yield


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
        # Registered after the consumer's own: by the time a reload starts, the queue is bound again.
        connection.close_callbacks.add(app[REVOCATION_SYNC].mark_stale)
        connection.reconnect_callbacks.add(app[REVOCATION_SYNC].request_load)
        app[BUS] = connection
        app[REVOCATIONS] = consumer
        yield
    finally:
        await connection.close()


async def revocation_state(app: web.Application) -> AsyncIterator[None]:
    """Load every revocation from the auth service now and whenever the bus connection comes back; close the JWKS
    client. The first attempt is made before serving; until one succeeds, JWTs are refused and /readyz says so."""
    config, sync = app[CONFIG], app[REVOCATION_SYNC]
    url = f"{config.auth_url}/internal/oauth/revocations"

    async def load() -> int:
        headers = {
            PRINCIPAL_HEADER: sign_principal(
                Principal.service("gateway"), config.common.signing_key.bytes, AUTH_AUDIENCE
            )
        }
        return await app[JWT_VERIFIER].load_revocations(url, headers)

    await sync.load_once(load)
    task = asyncio.create_task(sync.run(load), name="gateway-revocation-sync")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=5.0)
        await app[JWT_VERIFIER].close()


async def rabbitmq_ready(app: web.Application) -> None:
    if app[BUS].is_closed or not app[REVOCATIONS].connected:
        raise ConnectionError("the RabbitMQ connection is down")


async def revocations_ready(app: web.Application) -> None:
    if not app[REVOCATION_SYNC].current:
        raise ConnectionError("the revocation list is not loaded since the last connection to RabbitMQ")


async def auth_ready(app: web.Application) -> None:
    await app[AUTH_CLIENT].check_health()


def create_app(config: Config) -> web.Application:
    metrics = ServiceMetrics(config.common.service)
    app = web.Application(middlewares=[request_id_middleware, metrics.middleware, error_middleware])
    app[CONFIG] = config
    app[METRICS] = metrics
    app[ROUTE_TABLE] = RouteTable(ROUTES)
    app[CACHE] = PrincipalCache(config.verify_cache_size, config.verify_cache_max_age, grace=config.verify_outage_grace)
    app[COUNTERS] = Counters(f"{config.common.bus_prefix}:gateway:")
    app[GATEWAY_METRICS] = GatewayMetrics(
        metrics, app[CACHE], app[COUNTERS], lambda: app[VERIFIER].breaker if VERIFIER in app else None
    )
    app[LIMITER] = RateLimiter(app[COUNTERS], config.rate_limit_window)
    app[TRANSPORT] = TransportPolicy(config.trusted_proxies, config.allow_insecure_http, config.hsts_max_age)
    app.on_response_prepare.append(app[TRANSPORT].add_hsts)
    app[CORS] = CorsPolicy(config.cors_origins)
    app[JWT_VERIFIER] = JwtVerifier(
        f"{config.auth_url}/.well-known/jwks.json",
        config.oauth_issuer,
        config.oauth_audience,
        require_loaded_revocations=True,
    )
    app[REVOCATION_SYNC] = RevocationSync()
    app.cleanup_ctx.append(shared_counters)
    app.cleanup_ctx.append(http_clients)
    app.cleanup_ctx.append(revocation_events)
    app.cleanup_ctx.append(revocation_state)
    # An auth outage degrades the gateway (verified principals keep working, see breaker.py) rather than taking every
    # replica out of its load balancer.
    add_health_routes(
        app, {"rabbitmq": rabbitmq_ready, "revocations": revocations_ready}, degrading={"auth": auth_ready}
    )
    app.router.add_get("/openapi.json", serve_openapi)
    app.router.add_get("/docs", serve_docs)
    app.router.add_route("*", "/{path:.*}", front_door)
    return app
