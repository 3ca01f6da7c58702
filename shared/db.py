"""The asyncpg pool and the migration runner.

Each service owns one PostgreSQL schema and a folder of numbered plain-SQL migrations (001_init.sql, ...).
They are applied at start-up, in order, each in its own transaction, under an advisory lock keyed on the schema
so that several replicas starting together apply each file exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class MigrationError(Exception):
    pass


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 30_000,
    init: Callable[[asyncpg.Connection], object] | None = None,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"statement_timeout": str(statement_timeout_ms)},
        init=init,  # type: ignore[arg-type]
    )
    assert pool is not None
    return pool


POOL_CLOSE_TIMEOUT_SECONDS = 5.0


async def close_pool(pool: asyncpg.Pool, timeout: float = POOL_CLOSE_TIMEOUT_SECONDS) -> None:
    """Close gracefully, but within a bound: asyncpg's close() waits for every acquired connection to come back,
    and one that never does (a task cancelled at the wrong moment) must not hold a service's shutdown forever."""
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except TimeoutError:
        log.warning("PostgreSQL pool did not close within %.0f s; terminating its connections", timeout)
        pool.terminate()


@asynccontextmanager
async def open_pool(dsn: str, **kwargs: object) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, **kwargs)  # type: ignore[arg-type]
    try:
        yield pool
    finally:
        await close_pool(pool)


def migration_files(directory: Path) -> list[tuple[int, Path]]:
    found: list[tuple[int, Path]] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNN_lowercase_name.sql")
        found.append((int(match.group(1)), path))
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a number")
    return found


def _lock_key(schema: str) -> int:
    digest = hashlib.sha256(f"migrations:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def apply_migrations(pool: asyncpg.Pool, schema: str, directory: Path) -> list[str]:
    """Apply the not-yet-applied migrations of one schema; return the names applied now."""
    if not _SCHEMA_NAME.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    files = migration_files(directory)
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        try:
            # The schema name is checked against _SCHEMA_NAME above; identifiers cannot be bound parameters.
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch(f"SELECT version, name, checksum FROM {schema}.schema_migrations")
            done = {row["version"]: row for row in rows}
            for version, path in files:
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version]["checksum"] != checksum:
                        raise MigrationError(
                            f"{schema}: migration {path.name} was changed after it was applied; "
                            "add a new numbered migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                    await conn.execute(sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        version,
                        path.name,
                        checksum,
                    )
                applied_now.append(path.name)
                log.info("applied migration %s.%s", schema, path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied_now
