"""Differential test of $apply: hypothesis-generated groupby/aggregate requests answered by the running service over
real rows, against the same grouping and aggregation computed in Python from the rows (the aggregation extension's
rules: nulls ignored, null when nothing is left, countdistinct of the non-null values)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.odata.helpers import Signed, running_odata

FIELDS = ["price", "stock", "category_id"]
GROUPS = ["category_id", "active", "stock"]
METHODS = ["sum", "average", "min", "max", "countdistinct"]
# (filter expression, the same predicate in Python)
FILTERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("true", lambda row: True),
    ("stock gt 2", lambda row: row["stock"] > 2),
    ("category_id eq null", lambda row: row["category_id"] is None),
    ("price lt 5", lambda row: row["price"] < 5),
    ("stock gt 100", lambda row: False),
]


@dataclass(frozen=True)
class Rows:
    prefix: str
    rows: list[dict[str, Any]]


async def _insert(database_url: str, prefix: str) -> Rows:
    conn = await asyncpg.connect(database_url)
    try:
        categories = [
            await conn.fetchval(
                "INSERT INTO catalog.categories (name, slug) VALUES ($1, $2) RETURNING id",
                f"{prefix} {i}",
                f"{prefix}-{i}",
            )
            for i in range(2)
        ]
        for index in range(30):
            await conn.execute(
                """INSERT INTO catalog.products (sku, name, price, stock, category_id, active)
                   VALUES ($1, 'p', $2, $3, $4, $5)""",
                f"{prefix}-{index:02d}",
                Decimal(index * 7 % 11) + Decimal("0.25"),
                index % 6,
                [categories[0], categories[1], None][index % 3],
                index % 4 != 0,
            )
        records = await conn.fetch("SELECT * FROM catalog.products WHERE starts_with(sku, $1)", prefix)
        return Rows(prefix, [dict(record) for record in records])
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def service(database_url: str, signing_key: str) -> Iterator[tuple[str, requests.Session]]:
    env = {"DATABASE_URL": database_url, "INTERNAL_SIGNING_KEY": signing_key, "LOG_LEVEL": "ERROR"}
    with running_odata(env) as url, requests.Session() as session:
        session.auth = Signed(signing_key)
        yield url, session


@pytest.fixture(scope="module")
def rows(service: tuple[str, requests.Session], database_url: str) -> Rows:
    return asyncio.run(_insert(database_url, f"a{secrets.token_hex(4)}"))


def aggregate(method: str, values: list[Any]) -> Any:
    present = [value for value in values if value is not None]
    if method == "countdistinct":
        return len(set(present))
    if not present:
        return None
    if method == "sum":
        return float(sum(present))
    if method == "average":
        return float(Decimal(sum(present)) / len(present))
    return float(min(present)) if method == "min" else float(max(present))


def expected_groups(
    data: Rows, keep: Callable[[dict[str, Any]], bool], groups: list[str], items: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    buckets: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in data.rows:
        if keep(row):
            buckets.setdefault(tuple(row[name] for name in groups), []).append(row)
    if not groups and not buckets:
        buckets[()] = []
    answer = []
    for key in sorted(buckets, key=lambda values: [(value is not None, value) for value in values]):
        group = dict(zip(groups, key, strict=True))
        for index, (method, field) in enumerate(items):
            group[f"A{index}"] = aggregate(method, [row[field] for row in buckets[key]])
        group["N"] = len(buckets[key])
        answer.append(group)
    return answer


@pytest.mark.slow
@settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    chosen_filter=st.sampled_from(FILTERS),
    groups=st.lists(st.sampled_from(GROUPS), max_size=2, unique=True),
    items=st.lists(st.tuples(st.sampled_from(METHODS), st.sampled_from(FIELDS)), min_size=1, max_size=3),
)
def test_groups_and_aggregates_match_a_python_evaluation(
    service: tuple[str, requests.Session],
    rows: Rows,
    chosen_filter: tuple[str, Callable[[dict[str, Any]], bool]],
    groups: list[str],
    items: list[tuple[str, str]],
) -> None:
    url, session = service
    expression, keep = chosen_filter
    aggregates = ", ".join(f"{field} with {method} as A{index}" for index, (method, field) in enumerate(items))
    aggregates += ", $count as N"
    shape = f"groupby(({','.join(groups)}), aggregate({aggregates}))" if groups else f"aggregate({aggregates})"
    apply = f"filter(startswith(sku,'{rows.prefix}') and ({expression}))/{shape}"
    response = session.get(f"{url}/odata/products", params={"$apply": apply, "$top": "100"}, timeout=30)
    assert response.status_code == 200, (apply, response.text)
    served = [{k: v for k, v in row.items() if "@" not in k} for row in response.json()["value"]]
    expected = expected_groups(rows, keep, groups, items)
    assert len(served) == len(expected), apply
    for got, wanted in zip(served, expected, strict=True):
        assert got.keys() == wanted.keys(), apply
        for name, value in wanted.items():
            assert got[name] == pytest.approx(value), (apply, name, got, wanted)
