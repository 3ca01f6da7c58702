from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.odata import db
from services.odata.config import Config
from services.odata.keys import CONFIG, POOL
from services.odata.routes import add_routes
from shared import catalog
from shared.db import apply_migrations, close_pool, create_pool
from shared.errors import error_middleware
from shared.health import add_health_routes
from shared.logs import request_id_middleware
from shared.metrics import METRICS, ServiceMetrics
from shared.service import connect_with_retry


async def open_database(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    pool = await connect_with_retry(
        "PostgreSQL",
        lambda: create_pool(
            config.database_url, max_size=config.pool_size, statement_timeout_ms=config.statement_timeout_ms
        ),
        timeout=config.startup_timeout,
    )
    try:
        await apply_migrations(pool, catalog.SCHEMA, catalog.MIGRATIONS)
        app[POOL] = pool
        yield
    finally:
        await close_pool(pool)


async def postgresql_ready(app: web.Application) -> None:
    async with app[POOL].acquire() as conn:
        await db.ping(conn)


def create_app(config: Config) -> web.Application:
    metrics = ServiceMetrics(config.common.service)
    app = web.Application(middlewares=[request_id_middleware, metrics.middleware, error_middleware])
    metrics.track_pool(lambda: app.get(POOL))
    app[CONFIG] = config
    app[METRICS] = metrics
    app.cleanup_ctx.append(open_database)
    add_health_routes(app, {"postgresql": postgresql_ready})
    add_routes(app)
    return app
