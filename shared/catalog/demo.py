"""Demo data: `python -m shared.catalog.demo --products 300`.

Loads a category tree, products with sku/name/price/stock, customers, orders and order items. Deterministic (row
N is always the same) and idempotent (natural keys DEMO-..., ON CONFLICT DO NOTHING), so running it twice changes
nothing. Rows are generated in Python, streamed with COPY into a temporary staging table in batches, then
inserted set-wise, which keeps `--products 1000000` to well under a minute. Reads DATABASE_URL (and
STATEMENT_TIMEOUT_MS is not applied: bulk loads run without it) and STARTUP_TIMEOUT; like the services, it waits for
the catalog schema its rows need (`python -m shared.catalog.migrate` applies it) instead of migrating it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from shared.catalog.schema import wait_for_schema
from shared.config import ConfigError, read_database_url, read_float
from shared.db import create_pool
from shared.service import DependencyUnavailable

BATCH_SIZE = 50_000
CATEGORY_TREE: dict[str, tuple[str, ...]] = {
    "Electronics": ("Phones", "Laptops", "Audio"),
    "Home": ("Kitchen", "Furniture", "Lighting"),
    "Garden": ("Tools", "Plants", "Outdoor Furniture"),
    "Sports": ("Running", "Cycling", "Swimming"),
    "Books": ("Fiction", "Science", "Children"),
    "Toys": ("Puzzles", "Board Games", "Building Sets"),
}
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Smart", "Pro", "Mini", "Ultra", "Vintage", "Rugged")
NOUNS = ("Lamp", "Kettle", "Speaker", "Backpack", "Bottle", "Chair", "Drill", "Puzzle", "Notebook", "Headphones")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen")
CITIES = (("Paris", "FR"), ("Berlin", "DE"), ("Austin", "US"), ("Osaka", "JP"), ("Lyon", "FR"), ("Leeds", "GB"))
STATUSES = ("new", "paid", "shipped", "completed", "cancelled")
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoSize:
    products: int
    customers: int
    orders: int

    @classmethod
    def for_products(cls, products: int) -> DemoSize:
        customers = max(10, min(products // 10, 100_000))
        return cls(products, customers, customers * 2)


def slugify(name: str) -> str:
    return "demo-" + name.lower().replace(" ", "-")


def leaf_slugs() -> list[str]:
    return [slugify(f"{parent} {child}") for parent, children in CATEGORY_TREE.items() for child in children]


def product_rows(count: int) -> Iterator[tuple[str, str, str, Decimal, int, str]]:
    leaves = leaf_slugs()
    for n in range(1, count + 1):
        name = f"{ADJECTIVES[n % len(ADJECTIVES)]} {NOUNS[(n // len(ADJECTIVES)) % len(NOUNS)]} {n}"
        price = Decimal((n * 7919) % 50_000 + 100) / 100
        description = f"{name}: demo product number {n}."
        yield (f"DEMO-{n:07d}", name, description, price, (n * 31) % 200, leaves[n % len(leaves)])


def customer_rows(count: int) -> Iterator[tuple[str, str, str, str, str, str]]:
    for n in range(1, count + 1):
        city, country = CITIES[n % len(CITIES)]
        yield (
            f"demo-customer-{n}@example.com",
            FIRST_NAMES[n % len(FIRST_NAMES)],
            LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)],
            f"+1-555-{n % 10_000:04d}",
            city,
            country,
        )


def order_rows(count: int, customers: int) -> Iterator[tuple[str, str, str, datetime]]:
    for n in range(1, count + 1):
        yield (
            f"DEMO-O-{n:07d}",
            f"demo-customer-{(n * 7) % customers + 1}@example.com",
            STATUSES[n % len(STATUSES)],
            EPOCH + timedelta(hours=n * 5),
        )


def order_item_rows(orders: int, products: int) -> Iterator[tuple[str, str, int]]:
    for n in range(1, orders + 1):
        picked = {(n * 13 + k * 101) % products + 1 for k in range(n % 3 + 1)}
        for k, product in enumerate(sorted(picked)):
            yield (f"DEMO-O-{n:07d}", f"DEMO-{product:07d}", (n + k) % 5 + 1)


def batches(rows: Iterator[tuple[object, ...]], size: int = BATCH_SIZE) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def stage_and_insert(
    conn: asyncpg.Connection,
    staging_ddl: str,
    columns: Sequence[str],
    rows: Iterator[tuple[object, ...]],
    insert_sql: str,
) -> int:
    """COPY rows into a temporary table batch by batch, running the set-wise insert after each batch."""
    inserted = 0
    async with conn.transaction():
        await conn.execute(f"CREATE TEMP TABLE staging ({staging_ddl}) ON COMMIT DROP")
        for batch in batches(rows):
            await conn.copy_records_to_table("staging", records=batch, columns=list(columns))
            status = await conn.execute(insert_sql)
            inserted += int(status.rsplit(" ", 1)[-1])
            await conn.execute("TRUNCATE staging")
    return inserted


async def load_categories(conn: asyncpg.Connection) -> int:
    inserted = 0
    async with conn.transaction():
        for parent, children in CATEGORY_TREE.items():
            status = await conn.execute(
                "INSERT INTO catalog.categories (name, slug) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING",
                parent,
                slugify(parent),
            )
            inserted += int(status.rsplit(" ", 1)[-1])
            for child in children:
                status = await conn.execute(
                    """INSERT INTO catalog.categories (parent_id, name, slug)
                       SELECT id, $2, $3 FROM catalog.categories WHERE slug = $1
                       ON CONFLICT (slug) DO NOTHING""",
                    slugify(parent),
                    child,
                    slugify(f"{parent} {child}"),
                )
                inserted += int(status.rsplit(" ", 1)[-1])
    return inserted


async def load_demo(conn: asyncpg.Connection, size: DemoSize) -> dict[str, int]:
    counts = {"categories": await load_categories(conn)}
    counts["products"] = await stage_and_insert(
        conn,
        "sku text, name text, description text, price numeric, stock integer, category_slug text",
        ("sku", "name", "description", "price", "stock", "category_slug"),
        product_rows(size.products),
        """INSERT INTO catalog.products (sku, name, description, price, stock, category_id)
           SELECT s.sku, s.name, s.description, s.price, s.stock, c.id
           FROM staging s LEFT JOIN catalog.categories c ON c.slug = s.category_slug
           ON CONFLICT (sku) DO NOTHING""",
    )
    counts["customers"] = await stage_and_insert(
        conn,
        "email text, first_name text, last_name text, phone text, city text, country text",
        ("email", "first_name", "last_name", "phone", "city", "country"),
        customer_rows(size.customers),
        """INSERT INTO catalog.customers (email, first_name, last_name, phone, city, country)
           SELECT email, first_name, last_name, phone, city, country FROM staging
           ON CONFLICT (email) DO NOTHING""",
    )
    counts["orders"] = await stage_and_insert(
        conn,
        "number text, customer_email text, status text, placed_at timestamptz",
        ("number", "customer_email", "status", "placed_at"),
        order_rows(size.orders, size.customers),
        """INSERT INTO catalog.orders (number, customer_id, status, placed_at)
           SELECT s.number, c.id, s.status, s.placed_at
           FROM staging s JOIN catalog.customers c ON c.email = s.customer_email
           ON CONFLICT (number) DO NOTHING""",
    )
    counts["order_items"] = await stage_and_insert(
        conn,
        "order_number text, sku text, quantity integer",
        ("order_number", "sku", "quantity"),
        order_item_rows(size.orders, size.products),
        """INSERT INTO catalog.order_items (order_id, product_id, quantity, unit_price)
           SELECT o.id, p.id, s.quantity, p.price
           FROM staging s
           JOIN catalog.orders o ON o.number = s.order_number
           JOIN catalog.products p ON p.sku = s.sku
           ON CONFLICT (order_id, product_id) DO NOTHING""",
    )
    await conn.execute(
        """UPDATE catalog.orders o SET total = t.total
           FROM (SELECT order_id, sum(quantity * unit_price) AS total FROM catalog.order_items GROUP BY order_id) t
           WHERE t.order_id = o.id AND o.number LIKE 'DEMO-O-%' AND o.total IS DISTINCT FROM t.total"""
    )
    return counts


async def run(database_url: str, size: DemoSize, schema_timeout: float = 30.0) -> dict[str, int]:
    pool = await create_pool(database_url, max_size=2, statement_timeout_ms=0)
    try:
        await wait_for_schema(pool, schema_timeout)
        async with pool.acquire() as conn:
            return await load_demo(conn, size)
    finally:
        await pool.close()


def parse_args(argv: Sequence[str]) -> DemoSize:
    parser = argparse.ArgumentParser(prog="python -m shared.catalog.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=300, help="number of demo products (default 300)")
    parser.add_argument("--customers", type=int, help="number of customers (default products/10, at least 10)")
    parser.add_argument("--orders", type=int, help="number of orders (default twice the customers)")
    args = parser.parse_args(argv)
    if not 1 <= args.products <= 10_000_000:
        parser.error("--products must be between 1 and 10000000")
    size = DemoSize.for_products(args.products)
    customers = args.customers if args.customers is not None else size.customers
    orders = args.orders if args.orders is not None else customers * 2
    if not 1 <= customers <= 10_000_000 or not 0 <= orders <= 10_000_000:
        parser.error("--customers must be 1..10000000 and --orders 0..10000000")
    return DemoSize(size.products, customers, orders)


def main(argv: Sequence[str] | None = None) -> int:
    size = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        database_url = read_database_url(os.environ)
        schema_timeout = read_float(os.environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0)
    except ConfigError as error:
        print(f"demo: configuration error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        counts = asyncio.run(run(database_url, size, schema_timeout))
    except (OSError, asyncpg.PostgresError, DependencyUnavailable) as error:
        print(f"demo: could not load demo data: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{name} +{count}" for name, count in counts.items())
    print(f"demo data loaded in {time.perf_counter() - started:.1f}s: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
