"""The catalog schema has one owner, its migrate step; the services that use the catalog wait for it."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.importer.app import open_database as open_importer_database
from services.importer.config import Config as ImporterConfig
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from shared.catalog.migrate import run as migrate_catalog
from shared.catalog.schema import REQUIRED_VERSION, CatalogNotMigrated


@pytest.fixture
async def empty_database(server_database_url: str) -> AsyncIterator[str]:
    """A database of its own, without the catalog the run's database is given."""
    name = f"test_empty_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(server_database_url)._replace(path=f"/{name}"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def catalog_exists(database_url: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = 'catalog'"))
    finally:
        await conn.close()


async def test_the_odata_service_does_not_start_on_an_unmigrated_catalog_nor_migrate_it(
    empty_database: str, base_env: dict[str, str]
) -> None:
    config = OdataConfig.from_env({**base_env, "DATABASE_URL": empty_database, "STARTUP_TIMEOUT": "0.5"})
    server = TestServer(create_odata(config), host="127.0.0.1")
    with pytest.raises(CatalogNotMigrated, match=r"shared\.catalog\.migrate"):
        await server.start_server()
    await server.close()
    assert not await catalog_exists(empty_database)


async def test_the_importer_waits_for_the_catalog_instead_of_migrating_it(
    empty_database: str, base_env: dict[str, str]
) -> None:
    config = ImporterConfig.from_env({**base_env, "DATABASE_URL": empty_database, "STARTUP_TIMEOUT": "0.5"})
    with pytest.raises(CatalogNotMigrated):
        await open_importer_database(config)
    assert not await catalog_exists(empty_database)


async def test_a_service_waiting_for_the_catalog_starts_once_the_migrate_step_ran(
    empty_database: str, base_env: dict[str, str]
) -> None:
    config = OdataConfig.from_env({**base_env, "DATABASE_URL": empty_database, "STARTUP_TIMEOUT": "30"})
    client = TestClient(TestServer(create_odata(config), host="127.0.0.1"))
    starting = asyncio.create_task(client.start_server())
    applied, version = await migrate_catalog(empty_database, 5.0)
    assert applied and version == REQUIRED_VERSION
    await asyncio.wait_for(starting, 10)
    try:
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()


def test_the_migrate_command_reports_the_version_and_changes_nothing_the_second_time(empty_database: str) -> None:
    def migrate() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "shared.catalog.migrate"],
            env={**os.environ, "DATABASE_URL": empty_database},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert migrate().startswith(f"catalog schema at version {REQUIRED_VERSION} (")
    assert migrate() == f"catalog schema at version {REQUIRED_VERSION} (0 migrations applied now)"
