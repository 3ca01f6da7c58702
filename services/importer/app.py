from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

from services.importer import db
from services.importer.config import Config
from services.importer.keys import BUS, CONFIG, IMPORTER_METRICS, OUTBOX, POOL, PUBLISHER, UPLOAD_SLOTS, WAITERS, WORKER
from services.importer.metrics import ImporterMetrics
from services.importer.routes import add_routes
from services.importer.uploads import UploadSlots
from services.importer.waiting import JobWaiters
from services.importer.worker import ImportWorker
from shared import bus, catalog
from shared.db import apply_migrations, close_pool, create_pool
from shared.errors import error_middleware
from shared.health import add_health_routes
from shared.logs import request_id_middleware
from shared.metrics import METRICS, ServiceMetrics
from shared.outbox import OutboxPublisher
from shared.service import connect_with_retry

MIGRATIONS = Path(__file__).parent / "migrations"
API_CONNECTIONS = 8
# Uploads hold a connection while they stream; the rest stay free for job status, lists and mappers.
MAX_UPLOADS = API_CONNECTIONS - 2
OUTBOX_STOP_SECONDS = 5.0


def pool_size(config: Config) -> int:
    """Each job in hand holds two connections (its transaction and the upload's reader) for its whole run; the API
    and the jobs' progress updates need some more beside them, or jobs would wait on each other for ever."""
    jobs = config.worker_prefetch if config.worker_enabled else 0
    return API_CONNECTIONS + 2 * jobs


async def open_database(config: Config) -> asyncpg.Pool:
    """The pool, with the catalog's and the importer's migrations applied (used by the service and the CLI)."""
    pool = await connect_with_retry(
        "PostgreSQL",
        lambda: create_pool(config.database_url, max_size=pool_size(config), init=db.init_connection),
        timeout=config.startup_timeout,
    )
    try:
        await apply_migrations(pool, catalog.SCHEMA, catalog.MIGRATIONS)
        await apply_migrations(pool, db.SCHEMA, MIGRATIONS)
    except BaseException:
        await close_pool(pool)
        raise
    return pool


async def database(app: web.Application) -> AsyncIterator[None]:
    app[POOL] = await open_database(app[CONFIG])
    yield
    await close_pool(app[POOL])


async def message_bus(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    connection = await connect_with_retry(
        "RabbitMQ", lambda: bus.connect(config.common.amqp_url), timeout=config.startup_timeout
    )
    app[BUS] = connection
    waiters = JobWaiters()
    try:
        publisher = await bus.open_publisher_channel(connection)
        topology = bus.Topology(config.common.bus_prefix)
        await bus.declare_topology(publisher, topology)
        app[PUBLISHER] = publisher
        await waiters.listen(connection, topology)
        app[WAITERS] = waiters
        yield
    finally:
        await waiters.close()
        await connection.close()


async def job_outbox(app: web.Application) -> AsyncIterator[None]:
    """Publishes the jobs' messages written with each upload, also those of a replica that died before it could."""
    config = app[CONFIG]
    topology = bus.Topology(config.common.bus_prefix)
    publisher = OutboxPublisher(
        app[POOL],
        config.database_url,
        config.common.amqp_url,
        db.JOB_OUTBOX,
        topology.imports_exchange,
        lambda channel: bus.declare_topology(channel, topology),
    )
    app[OUTBOX] = publisher
    task = asyncio.create_task(publisher.run(), name="importer-job-outbox")
    yield
    task.cancel()
    await asyncio.wait({task}, timeout=OUTBOX_STOP_SECONDS)


async def import_worker(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    if not config.worker_enabled:
        yield
        return
    worker = ImportWorker(
        app[POOL],
        app[BUS],
        app[PUBLISHER],
        bus.Topology(config.common.bus_prefix),
        prefetch=config.worker_prefetch,
        batch_rows=config.batch_rows,
        on_job_finished=app[IMPORTER_METRICS].job_finished,
    )
    await worker.start()
    app[WORKER] = worker
    yield
    await worker.stop(config.common.shutdown_timeout)


async def postgresql_ready(app: web.Application) -> None:
    async with app[POOL].acquire() as conn:
        await db.ping(conn)


async def rabbitmq_ready(app: web.Application) -> None:
    if app[BUS].is_closed or not app[BUS].connected.is_set():
        raise ConnectionError("RabbitMQ connection is down")


def observe(app: web.Application, metrics: ServiceMetrics) -> None:
    """The importer's metrics: the queue's depth read when scraped, the pool's sizes, job durations."""
    config = app[CONFIG]
    importer_metrics = ImporterMetrics(metrics)
    queue_name = bus.Topology(config.common.bus_prefix).imports_queue

    async def refresh_queue_depth() -> None:
        connection = app.get(BUS)
        if connection is not None and not connection.is_closed:
            await importer_metrics.read_queue_depth(connection, queue_name)

    metrics.refresh_with(refresh_queue_depth)
    metrics.track_pool(lambda: app.get(POOL))
    app[METRICS] = metrics
    app[IMPORTER_METRICS] = importer_metrics


def create_app(config: Config) -> web.Application:
    metrics = ServiceMetrics(config.common.service)
    app = web.Application(middlewares=[request_id_middleware, metrics.middleware, error_middleware])
    app[CONFIG] = config
    app[UPLOAD_SLOTS] = UploadSlots(config.uploads_per_user, MAX_UPLOADS)
    observe(app, metrics)
    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(message_bus)
    app.cleanup_ctx.append(job_outbox)
    app.cleanup_ctx.append(import_worker)
    add_health_routes(app, {"postgresql": postgresql_ready, "rabbitmq": rabbitmq_ready})
    add_routes(app)
    return app
