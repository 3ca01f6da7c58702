from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver

from services.webhooks import db
from services.webhooks.config import Config
from services.webhooks.deliverer import Deliverer, DeliverySettings
from services.webhooks.housekeeping import run_housekeeping
from services.webhooks.keys import (
    BUS,
    CIPHER,
    CONFIG,
    DELIVERER,
    OWNERS,
    POLICY,
    POOL,
    PUBLISHER,
    RESOLVER,
    SENDER,
)
from services.webhooks.owners import OwnerDirectory
from services.webhooks.queues import declare_webhooks_topology
from services.webhooks.routes import add_routes
from services.webhooks.sender import WebhookSender, close_quietly
from services.webhooks.signing import SecretCipher
from services.webhooks.targets import AddressPolicy, default_resolver
from shared import bus
from shared.db import apply_migrations, close_pool, create_pool
from shared.errors import error_middleware
from shared.health import add_health_routes
from shared.logs import request_id_middleware
from shared.service import connect_with_retry

MIGRATIONS = Path(__file__).parent / "migrations"
API_CONNECTIONS = 8


async def database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    # Each delivery in hand holds a connection only while it reads or records, never while it waits on a receiver.
    size = API_CONNECTIONS + (min(config.concurrency, 32) if config.deliverer_enabled else 0)
    pool = await connect_with_retry(
        "PostgreSQL", lambda: create_pool(config.database_url, max_size=size), timeout=config.startup_timeout
    )
    try:
        await apply_migrations(pool, db.SCHEMA, MIGRATIONS)
    except BaseException:
        await close_pool(pool)
        raise
    app[POOL] = pool
    yield
    await close_pool(pool)


async def http_clients(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if RESOLVER not in app:
        app[RESOLVER] = default_resolver()  # the system's resolver needs the running loop
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    app[OWNERS] = OwnerDirectory(session, config.auth_url, config.common.signing_key.bytes, config.owner_cache_seconds)
    app[SENDER] = WebhookSender(
        app[RESOLVER],
        app[POLICY],
        connect_timeout=config.connect_timeout,
        total_timeout=config.total_timeout,
        max_response_bytes=config.max_response_bytes,
        connections=max(config.concurrency, 10),
    )
    yield
    await close_quietly(app[SENDER])
    await session.close()


async def message_bus(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    connection = await connect_with_retry(
        "RabbitMQ", lambda: bus.connect(config.common.amqp_url or ""), timeout=config.startup_timeout
    )
    app[BUS] = connection
    try:
        publisher = await bus.open_publisher_channel(connection)
        await declare_webhooks_topology(
            publisher, bus.Topology(config.common.bus_prefix), config.retry_schedule, config.retry_jitter
        )
        app[PUBLISHER] = publisher
        yield
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), 5.0)


async def deliveries(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if not config.deliverer_enabled:
        yield
        return
    topology = bus.Topology(config.common.bus_prefix)
    deliverer = Deliverer(
        app[POOL],
        app[BUS],
        topology,
        app[OWNERS],
        app[SENDER],
        app[CIPHER],
        DeliverySettings(
            schedule=config.retry_schedule,
            jitter=config.retry_jitter,
            disable_after_failures=config.disable_after_failures,
            concurrency=config.concurrency,
        ),
    )
    await deliverer.start()
    app[DELIVERER] = deliverer
    housekeeping = asyncio.create_task(
        run_housekeeping(app[POOL], app[PUBLISHER], topology, timedelta(days=config.log_retention_days)),
        name="webhooks-housekeeping",
    )
    yield
    housekeeping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await housekeeping
    await deliverer.stop(config.common.shutdown_timeout)


async def postgresql_ready(app: web.Application) -> None:
    async with app[POOL].acquire() as conn:
        await db.ping(conn)


async def rabbitmq_ready(app: web.Application) -> None:
    if app[BUS].is_closed or not app[BUS].connected.is_set():
        raise ConnectionError("RabbitMQ connection is down")


def create_app(config: Config, *, resolver: AbstractResolver | None = None) -> web.Application:
    """resolver: how receivers' names are resolved (default: the system's); tests pass a fixed one."""
    app = web.Application(middlewares=[request_id_middleware, error_middleware])
    app[CONFIG] = config
    app[CIPHER] = SecretCipher(config.encryption_key.bytes)
    app[POLICY] = AddressPolicy(config.allow_private_targets, config.allowed_networks)
    if resolver is not None:
        app[RESOLVER] = resolver
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(http_clients)
    app.cleanup_ctx.append(message_bus)
    app.cleanup_ctx.append(deliveries)
    add_health_routes(app, {"postgresql": postgresql_ready, "rabbitmq": rabbitmq_ready})
    add_routes(app)
    return app
