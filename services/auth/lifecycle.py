"""Resources opened after start-up and closed on shutdown: the pool, the bus, the housekeeping and outbox tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import asyncpg
from aiohttp import web

from services.auth.api_keys import announce_expired_keys
from services.auth.context import AuthContext
from services.auth.events import RevocationPublisher
from services.auth.keys import BUS, CIPHER, CONFIG, CONTEXT, COUNTERS, HASHER, OUTBOX, POOL, USAGE
from services.auth.outbox import OutboxPublisher
from shared import bus
from shared.counters import redis_counters
from shared.db import apply_migrations, close_pool, create_pool
from shared.service import connect_with_retry

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA = "auth"
# Expired keys are announced within about this long; uses and failed attempts are written every few ticks.
HOUSEKEEPING_INTERVAL_SECONDS = 1.0
USAGE_FLUSH_EVERY_TICKS = 5


async def open_database(config_url: str, timeout: float) -> asyncpg.Pool:
    pool = await connect_with_retry("PostgreSQL", lambda: create_pool(config_url), timeout=timeout)
    try:
        await apply_migrations(pool, SCHEMA, MIGRATIONS)
    except BaseException:
        await close_pool(pool)
        raise
    return pool


async def shared_counters(app: web.Application) -> AsyncIterator[None]:
    """Throttles counted in Redis when REDIS_URL is set (connected and scripts loaded at start-up; a Redis
    that is down only means memory counting until it answers)."""
    url = app[CONFIG].redis_url
    async with redis_counters(app[COUNTERS], url.value if url is not None else None):
        yield


async def database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[POOL] = await open_database(config.database_url, config.startup_timeout)
    yield
    await close_pool(app[POOL])


async def message_bus(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    connection = await connect_with_retry(
        "RabbitMQ", lambda: bus.connect(config.common.amqp_url), timeout=config.startup_timeout
    )
    app[BUS] = connection
    try:
        channel = await bus.open_publisher_channel(connection)
        topology = bus.Topology(config.common.bus_prefix)
        await bus.declare_topology(channel, topology)
        app[CONTEXT] = AuthContext(
            pool=app[POOL], hasher=app[HASHER], cipher=app[CIPHER], publisher=RevocationPublisher()
        )
        yield
    finally:
        await _bounded(connection.close())


async def housekeeping(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_housekeeping_loop(app), name="auth-housekeeping")
    yield
    await _stop(task)
    await _bounded(app[USAGE].flush(app[POOL]))


async def revocation_outbox(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    topology = bus.Topology(config.common.bus_prefix)
    app[OUTBOX] = OutboxPublisher(app[POOL], config.database_url, config.common.amqp_url, topology)
    task = asyncio.create_task(app[OUTBOX].run(), name="auth-revocation-outbox")
    yield
    await _stop(task)


SHUTDOWN_STEP_SECONDS = 5.0


async def _bounded(step: Awaitable[object]) -> None:
    """One shutdown step, within a bound: a broker that never answers a close must not hold the exit forever."""
    try:
        await asyncio.wait_for(step, SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("a shutdown step did not finish within %.0f s; going on", SHUTDOWN_STEP_SECONDS)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait({task}, timeout=SHUTDOWN_STEP_SECONDS)


async def _housekeeping_loop(app: web.Application) -> None:
    tick = 0
    while True:
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS)
        tick += 1
        try:
            await announce_expired_keys(app[CONTEXT])
            if tick % USAGE_FLUSH_EVERY_TICKS == 0:
                await app[USAGE].flush(app[POOL])
        except Exception as error:  # a background loop outlives any one failed round; the next tick retries
            log.warning("housekeeping failed, will retry: %s", type(error).__name__)


async def check_database(app: web.Application) -> None:
    await app[POOL].fetchval("SELECT 1")


async def check_bus(app: web.Application) -> None:
    if app[BUS].is_closed:
        raise ConnectionError("RabbitMQ connection is closed")
