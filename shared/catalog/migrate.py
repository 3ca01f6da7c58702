"""Applies the catalog's migrations: `python -m shared.catalog.migrate`.

The one step that changes the catalog schema (shared/catalog/schema.py says why); run it before the services that
use the catalog, after every upgrade. Idempotent. Reads DATABASE_URL and STARTUP_TIMEOUT (seconds to wait for
PostgreSQL, default 30).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

import asyncpg

from shared.catalog.schema import migrate, schema_version
from shared.config import ConfigError, read_database_url, read_float
from shared.db import close_pool, create_pool
from shared.service import DependencyUnavailable, connect_with_retry


async def run(database_url: str, startup_timeout: float) -> tuple[list[str], int]:
    """The migrations applied now, and the catalog's version after them."""
    pool = await connect_with_retry(
        "PostgreSQL", lambda: create_pool(database_url, max_size=1, statement_timeout_ms=0), timeout=startup_timeout
    )
    try:
        applied = await migrate(pool)
        return applied, await schema_version(pool)
    finally:
        await close_pool(pool)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> int:
    if list(sys.argv[1:] if argv is None else argv):
        print("usage: python -m shared.catalog.migrate", file=sys.stderr)
        return 2
    try:
        database_url = read_database_url(environ)
        startup_timeout = read_float(environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0)
    except ConfigError as error:
        print(f"catalog migrate: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        applied, version = asyncio.run(run(database_url, startup_timeout))
    except (OSError, asyncpg.PostgresError, DependencyUnavailable) as error:
        print(f"catalog migrate: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"catalog schema at version {version} ({len(applied)} migrations applied now)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
