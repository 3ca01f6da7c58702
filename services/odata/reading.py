"""Answering a checked ODataQuery: one page of entities, server-driven paging, counts and expanded relations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.odata import db
from services.odata.keyset import encode_token
from services.odata.query import (
    Expand,
    ODataQuery,
    QueryOptionError,
    count_sql,
    expand_count_sql,
    expand_sql,
    select_sql,
)
from shared.catalog.model import Field

MAX_EXPANDED_ROWS = 10_000


def json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def entity_json(record: asyncpg.Record | dict[str, Any], fields: tuple[Field, ...]) -> dict[str, object]:
    return {field.name: json_value(record[field.name]) for field in fields}


@dataclass(frozen=True)
class Page:
    entities: list[dict[str, object]]
    count: int | None
    next_token: str | None
    next_top: int | None


def page_size(query: ODataQuery, default_size: int, max_size: int) -> tuple[int, bool]:
    """How many rows this page holds, and whether more may follow through a nextLink."""
    wanted = query.top if query.top is not None else default_size
    size = min(wanted, max_size)
    may_continue = query.top is None or query.top > size
    return size, may_continue


async def read_page(conn: asyncpg.Connection, query: ODataQuery, default_size: int, max_size: int) -> Page:
    size, may_continue = page_size(query, default_size, max_size)
    sql, params = select_sql(query, size + 1 if may_continue else size)
    records = await db.fetch(conn, sql, params)
    more = may_continue and len(records) > size
    records = records[:size]
    entities = [entity_json(record, query.select) for record in records]
    await attach_expansions(conn, query, records, entities)
    count = None
    if query.count:
        count_query, count_params = count_sql(query)
        count = await db.fetch_count(conn, count_query, count_params)
    next_top = query.top - size if query.top is not None else None
    next_token = None
    if more:
        next_token = encode_token([records[-1][item.field.name] for item in query.sort])
    return Page(entities, count, next_token, next_top)


async def read_entity(conn: asyncpg.Connection, query: ODataQuery, key: int) -> dict[str, object] | None:
    sql, params = select_sql(query, 1, key_value=key)
    records = await db.fetch(conn, sql, params)
    if not records:
        return None
    entities = [entity_json(records[0], query.select)]
    await attach_expansions(conn, query, records, entities)
    return entities[0]


async def count_entities(conn: asyncpg.Connection, query: ODataQuery) -> int:
    sql, params = count_sql(query)
    return await db.fetch_count(conn, sql, params)


@dataclass
class RowBudget:
    """Expanded entities still allowed in this request, counted across every level of $expand."""

    left: int = MAX_EXPANDED_ROWS


async def attach_expansions(
    conn: asyncpg.Connection,
    query: ODataQuery,
    records: list[asyncpg.Record],
    entities: list[dict[str, object]],
) -> None:
    budget = RowBudget()
    for expand in query.expand:
        await attach_expansion(conn, expand, records, entities, budget, f"$expand/{expand.relation.name}")


async def attach_expansion(
    conn: asyncpg.Connection,
    expand: Expand,
    records: list[asyncpg.Record],
    entities: list[dict[str, object]],
    budget: RowBudget,
    path: str,
) -> None:
    """One statement for this expansion over all the parents of the level (and one for its $count), then the
    nested expansions over all the rows found: the statement count follows the depth of $expand, never the rows."""
    relation = expand.relation
    values = sorted({record[relation.local_field] for record in records if record[relation.local_field] is not None})
    related: dict[object, list[dict[str, object]]] = {}
    counts: dict[object, int] = {}
    if values:
        sql, params = expand_sql(expand, values, budget.left + 1)
        rows = await db.fetch(conn, sql, params)
        budget.left -= len(rows)
        if budget.left < 0:
            raise QueryOptionError(
                f"Expanding {relation.name} would return more than {MAX_EXPANDED_ROWS} entities in all; "
                f"query /{expand.target.name} with $filter instead",
                target=path,
            )
        children = [entity_json(row, expand.select) for row in rows]
        for nested in expand.expand:
            await attach_expansion(conn, nested, rows, children, budget, f"{path}/{nested.relation.name}")
        for row, child in zip(rows, children, strict=True):
            related.setdefault(row[relation.remote_field], []).append(child)
        if expand.count:
            sql, params = expand_count_sql(expand, values)
            counts = {row["parent"]: int(row["count"]) for row in await db.fetch(conn, sql, params)}
    for record, entity in zip(records, entities, strict=True):
        value = record[relation.local_field]
        matches = related.get(value, [])
        if expand.count:
            entity[f"{relation.name}@odata.count"] = counts.get(value, 0)
        entity[relation.name] = matches if relation.many else (matches[0] if matches else None)
