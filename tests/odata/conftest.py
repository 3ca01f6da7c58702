"""Fixtures of the odata tests: the app on the run's database, signed principals, and a uniquely named seed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.odata.app import create_app
from services.odata.config import Config
from shared import catalog
from shared.db import apply_migrations, open_pool
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

ALL_READ = frozenset(f"{resource}:read" for resource in ("products", "categories", "customers", "orders"))


@pytest.fixture
def odata_env(base_env: dict[str, str]) -> dict[str, str]:
    return {**base_env, "MAX_PAGE_SIZE": "50", "DEFAULT_PAGE_SIZE": "20"}


@pytest.fixture
def config(odata_env: dict[str, str]) -> Config:
    return Config.from_env(odata_env)


@pytest.fixture
async def client(aiohttp_client: Callable[..., object], config: Config) -> TestClient:
    return await aiohttp_client(create_app(config))  # type: ignore[misc, no-any-return]


@pytest.fixture
def sign(signing_key: str) -> Callable[..., dict[str, str]]:
    def headers(permissions: frozenset[str] = ALL_READ) -> dict[str, str]:
        principal = Principal(
            user_id=1,
            username="tester",
            is_admin=False,
            permissions=permissions,
            credential_kind="api_key",
            credential_id="test-key",
        )
        return {PRINCIPAL_HEADER: sign_principal(principal, signing_key.encode(), "odata")}

    return headers


class FreshPrincipal(Mapping[str, str]):
    """Request headers whose principal is signed anew whenever a request reads them: a signature lives only seconds,
    and a test may send requests for longer than that."""

    def __init__(self, sign: Callable[..., dict[str, str]]) -> None:
        self._sign = sign

    def __getitem__(self, name: str) -> str:
        return self._sign()[name]

    def __iter__(self) -> Iterator[str]:
        return iter((PRINCIPAL_HEADER,))

    def __len__(self) -> int:
        return 1


@pytest.fixture
def auth(sign: Callable[..., dict[str, str]]) -> Mapping[str, str]:
    return FreshPrincipal(sign)


@dataclass(frozen=True)
class Seed:
    """Ten products named <prefix>-00 .. <prefix>-09 in two categories, a customer with one order of two items."""

    prefix: str
    product_ids: list[int]
    root_category_id: int
    child_category_id: int
    customer_id: int
    order_id: int

    def where(self) -> str:
        return f"startswith(sku,'{self.prefix}')"


@pytest.fixture
async def seed(database_url: str) -> AsyncIterator[Seed]:
    prefix = f"t{secrets.token_hex(4)}"
    async with open_pool(database_url) as pool:
        await apply_migrations(pool, catalog.SCHEMA, catalog.MIGRATIONS)
        async with pool.acquire() as conn:
            yield await insert_seed(conn, prefix)


@pytest.fixture
async def uncategorized(database_url: str, seed: Seed) -> list[int]:
    """Three more products of the seed, <prefix>-10 .. <prefix>-12 with stock 10-12, in no category."""
    async with open_pool(database_url) as pool, pool.acquire() as conn:
        return [
            await conn.fetchval(
                """INSERT INTO catalog.products (sku, name, price, stock, category_id)
                   VALUES ($1, $2, 1, $3, NULL) RETURNING id""",
                f"{seed.prefix}-{index}",
                f"{seed.prefix} Loose {index}",
                index,
            )
            for index in (10, 11, 12)
        ]


async def insert_seed(conn: asyncpg.Connection, prefix: str) -> Seed:
    root = await conn.fetchval(
        "INSERT INTO catalog.categories (name, slug) VALUES ($1, $2) RETURNING id", f"{prefix} Root", f"{prefix}-root"
    )
    child = await conn.fetchval(
        "INSERT INTO catalog.categories (parent_id, name, slug) VALUES ($1, $2, $3) RETURNING id",
        root,
        f"{prefix} Child",
        f"{prefix}-child",
    )
    product_ids = []
    for index in range(10):
        product_ids.append(
            await conn.fetchval(
                """INSERT INTO catalog.products (sku, name, description, price, stock, category_id, active, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz) RETURNING id""",
                f"{prefix}-{index:02d}",
                f"{prefix} Item {index:02d}" if index % 2 == 0 else f"{prefix} Gadget {index:02d}",
                "It's special" if index == 3 else "plain",
                Decimal(index * 10) + Decimal("0.50"),
                index,
                child if index < 5 else root,
                index != 9,
                _date(2020 + index % 3, 1 + index, 1 + index),
            )
        )
    customer = await conn.fetchval(
        "INSERT INTO catalog.customers (email, first_name, city) VALUES ($1, 'Ada', 'Paris') RETURNING id",
        f"{prefix}@example.com",
    )
    order = await conn.fetchval(
        "INSERT INTO catalog.orders (number, customer_id, total) VALUES ($1, $2, 21.0) RETURNING id",
        f"{prefix}-o1",
        customer,
    )
    for product_id in product_ids[:2]:
        await conn.execute(
            "INSERT INTO catalog.order_items (order_id, product_id, quantity, unit_price) VALUES ($1, $2, 1, 10.5)",
            order,
            product_id,
        )
    return Seed(prefix, product_ids, root, child, customer, order)


def _date(year: int, month: int, day: int) -> object:
    from datetime import UTC, datetime

    return datetime(year, month, day, 12, 0, tzinfo=UTC)
