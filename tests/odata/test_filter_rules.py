"""Differential test of $filter: hypothesis-generated expressions, answered by the running service over real rows
in PostgreSQL, against an independent evaluation of the OData 4.01 rules (tests/odata/odata_rules.py)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import requests
import requests.auth
from hypothesis import HealthCheck, given, settings

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.odata.conftest import ALL_READ
from tests.odata.helpers import running_odata
from tests.odata.odata_rules import Expr, evaluate, filters, render

NAMES = ["Lamp", " \tLamp\u00a0", "lamp", "Desk LAMP", "\u3000chair ", "It's", "x", "a b\u2003"]
DESCRIPTIONS = ["", " ", "plain", "It's special", "\tlamp\n", "LAMP"]


@dataclass(frozen=True)
class Rows:
    prefix: str
    categories: dict[int, int]  # index in generated expressions -> category id
    rows: list[dict[str, Any]]


async def _insert(database_url: str, prefix: str) -> Rows:
    conn = await asyncpg.connect(database_url)
    try:
        categories = {}
        for index in range(2):
            categories[index] = await conn.fetchval(
                "INSERT INTO catalog.categories (name, slug) VALUES ($1, $2) RETURNING id",
                f"{prefix} {index}",
                f"{prefix}-{index}",
            )
        for index in range(36):
            await conn.execute(
                """INSERT INTO catalog.products (sku, name, description, price, stock, category_id, active, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                f"{prefix}-{index:02d}",
                NAMES[index % len(NAMES)],
                DESCRIPTIONS[index % len(DESCRIPTIONS)],
                Decimal(index * 7 % 17) + Decimal("0.50") if index % 5 else Decimal("10.50"),
                index % 7,
                [categories[0], categories[1], None][index % 3],
                index % 4 != 0,
                datetime(2020 + index % 3, 1 + index % 12, 1 + index % 28, 12, tzinfo=UTC),
            )
        records = await conn.fetch("SELECT * FROM catalog.products WHERE starts_with(sku, $1) ORDER BY sku", prefix)
        return Rows(prefix, categories, [dict(record) for record in records])
    finally:
        await conn.close()


class Signed(requests.auth.AuthBase):
    """A freshly signed principal on every request (a signature lives only seconds)."""

    def __init__(self, key: str) -> None:
        self.key = key.encode()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        principal = Principal(1, "rules", False, ALL_READ, "api_key", "rules-key")
        request.headers[PRINCIPAL_HEADER] = sign_principal(principal, self.key, "odata")
        return request


@pytest.fixture(scope="module")
def service(database_url: str, signing_key: str) -> Iterator[tuple[str, requests.Session]]:
    env = {
        "DATABASE_URL": database_url,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LISTEN_HOST": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
        "MAX_PAGE_SIZE": "100",
        "DEFAULT_PAGE_SIZE": "100",
    }
    with running_odata(env) as url, requests.Session() as session:
        session.auth = Signed(signing_key)
        yield url, session


@pytest.fixture(scope="module")
def rows(service: tuple[str, requests.Session], database_url: str) -> Rows:
    # After the service started: it applied the catalog migrations.
    return asyncio.run(_insert(database_url, f"r{secrets.token_hex(4)}"))


def expected_skus(expression: Expr, data: Rows) -> list[str]:
    return [row["sku"] for row in data.rows if evaluate(expression, row, data.categories) is True]


def served_skus(service: tuple[str, requests.Session], data: Rows, text: str) -> list[str]:
    url, session = service
    params = {"$filter": f"startswith(sku,'{data.prefix}') and ({text})", "$orderby": "sku", "$select": "sku"}
    response = session.get(f"{url}/odata/products", params=params, timeout=30)
    assert response.status_code == 200, (text, response.text)
    return [entity["sku"] for entity in response.json()["value"]]


@pytest.mark.slow
@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(expression=filters())
def test_filters_select_exactly_the_rows_the_odata_rules_select(
    service: tuple[str, requests.Session], rows: Rows, expression: Expr
) -> None:
    text = render(expression, rows.categories)
    assert served_skus(service, rows, text) == expected_skus(expression, rows), text
