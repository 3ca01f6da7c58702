from __future__ import annotations

import asyncpg

from services.importer.demo_mappers import DEMO_MAPPERS
from tests.conftest import run_cli


async def test_create_demo_mappers_is_idempotent_and_makes_one_per_entity(
    cli_env: dict[str, str], database_url: str
) -> None:
    run_cli(cli_env, "services.importer.cli", "create-demo-mappers")
    again = run_cli(cli_env, "services.importer.cli", "create-demo-mappers")
    assert "created: none" in again
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, entity FROM importer.mappers WHERE id = any($1::text[])", list(DEMO_MAPPERS)
        )
    finally:
        await conn.close()
    assert {row["id"] for row in rows} == set(DEMO_MAPPERS)
    assert {row["entity"] for row in rows} == {"products", "categories", "customers", "orders", "order_items"}
