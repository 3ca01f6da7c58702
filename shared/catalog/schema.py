"""Who applies the catalog's migrations, and how the services that use the catalog wait for them.

The catalog is read by the odata service and written by the importer and the demo loader; none of them migrates it.
One step does, before they start: `python -m shared.catalog.migrate` (run by deploy/launcher.py, compose's init
service through deploy/container/init.py, and the test suite). Each service instead waits, within its
STARTUP_TIMEOUT, until the catalog has the version its code was written for, so replicas of several services never
race to change one schema, and a service started before the step fails with a message that names it.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from shared.catalog import MIGRATIONS, SCHEMA
from shared.db import apply_migrations, migration_files
from shared.service import DependencyUnavailable

# The version this checkout's code needs: its newest catalog migration.
REQUIRED_VERSION = max(version for version, _ in migration_files(MIGRATIONS))
POLL_SECONDS = 0.25


class CatalogNotMigrated(DependencyUnavailable):
    """The catalog schema is older than the code that uses it."""


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply the catalog's migrations not applied yet; the migrate step is the only caller."""
    return await apply_migrations(pool, SCHEMA, MIGRATIONS)


async def schema_version(pool: asyncpg.Pool) -> int:
    """The newest catalog migration applied, 0 before the first."""
    try:
        return await pool.fetchval(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_migrations")
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0


async def wait_for_schema(pool: asyncpg.Pool, timeout: float, version: int = REQUIRED_VERSION) -> int:
    """Returns the catalog's version once it is at least `version`; CatalogNotMigrated after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        current = await schema_version(pool)
        if current >= version:
            return current
        if time.monotonic() + POLL_SECONDS > deadline:
            raise CatalogNotMigrated(
                f"the catalog schema is at version {current}, this code needs {version}: "
                "run `python -m shared.catalog.migrate` first"
            )
        await asyncio.sleep(POLL_SECONDS)
