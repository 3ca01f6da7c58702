from __future__ import annotations

import os
import subprocess
import sys

import asyncpg

from shared.catalog.demo import DemoSize, run


async def test_demo_data_is_loaded_once_and_deterministic(database_url: str) -> None:
    size = DemoSize(products=40, customers=10, orders=20)
    first = await run(database_url, size)
    second = await run(database_url, size)
    assert second == {"categories": 0, "products": 0, "customers": 0, "orders": 0, "order_items": 0}
    assert first["products"] in (0, 40)  # another test may have loaded the same rows first
    conn = await asyncpg.connect(database_url)
    try:
        product = await conn.fetchrow(
            """SELECT p.name, p.price, p.stock, c.slug, parent.slug AS parent_slug
               FROM catalog.products p JOIN catalog.categories c ON c.id = p.category_id
               JOIN catalog.categories parent ON parent.id = c.parent_id WHERE p.sku = 'DEMO-0000007'"""
        )
        assert product["name"] == "Ultra Lamp 7" and str(product["price"]) == "55.33" and product["stock"] == 217 % 200
        assert product["slug"].startswith(product["parent_slug"])
        items = await conn.fetchval(
            "SELECT count(*) FROM catalog.order_items i JOIN catalog.orders o ON o.id = i.order_id "
            "WHERE o.number = 'DEMO-O-0000002'"
        )
        assert items == 3
        total = await conn.fetchval("SELECT total FROM catalog.orders WHERE number = 'DEMO-O-0000002'")
        assert total > 0
    finally:
        await conn.close()


def test_demo_command_line_loads_and_reports(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.catalog.demo", "--products", "25"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("demo data loaded")


def test_demo_command_without_database_url_fails_clearly() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "shared.catalog.demo"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr
