"""The catalog reads behind the api.php methods, built as ODataQuery values so they go through the same compiler,
bind parameters and statement limits as OData (services/odata/query.py, reading.py)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.odata import db, reading
from services.odata.expressions import Binary, Literal, Node, Property
from services.odata.query import ODataQuery, related_sql, select_sql
from shared.catalog.model import EntitySet

MAX_RELATED_ROWS = 1000


def entity_query(
    entity: EntitySet,
    *,
    filter_node: Node | None = None,
    search: tuple[str, ...] = (),
    top: int | None = None,
    skip: int = 0,
    count: bool = False,
) -> ODataQuery:
    return ODataQuery(
        entity=entity,
        select=entity.fields,
        explicit_select=False,
        filter=filter_node,
        orderby=(),
        top=top,
        skip=skip,
        count=count,
        search=search,
        expand=(),
    )


def equals(field_name: str, value: object) -> Node:
    """field eq value (value None: field is null), as the compiler takes it from $filter."""
    return Binary("eq", Property(field_name, 0), Literal(value, 0), 0)


def all_of(nodes: list[Node]) -> Node | None:
    combined: Node | None = None
    for node in nodes:
        combined = node if combined is None else Binary("and", combined, node, 0)
    return combined


async def read_one(conn: asyncpg.Connection, entity: EntitySet, key: int) -> dict[str, object] | None:
    return await reading.read_entity(conn, entity_query(entity), key)


@dataclass(frozen=True)
class Slice:
    entities: list[dict[str, object]]
    count: int


async def read_slice(
    conn: asyncpg.Connection,
    entity: EntitySet,
    offset: int,
    limit: int,
    filter_node: Node | None = None,
    search: tuple[str, ...] = (),
) -> Slice:
    """One window of a set, ordered by key, with the total count of matching rows."""
    query = entity_query(entity, filter_node=filter_node, search=search, top=limit, skip=offset, count=True)
    page = await reading.read_page(conn, query, limit, limit)
    return Slice(page.entities, page.count or 0)


async def read_related(
    conn: asyncpg.Connection, entity: EntitySet, remote_field: str, values: list[int], limit: int = MAX_RELATED_ROWS
) -> list[dict[str, object]]:
    """Rows of `entity` whose `remote_field` is one of `values`, ordered by key, at most `limit`."""
    if not values:
        return []
    sql, params = related_sql(entity, remote_field, entity.fields, values, limit)
    rows = await db.fetch(conn, sql, params)
    return [reading.entity_json(row, entity.fields) for row in rows]


async def read_roots(
    conn: asyncpg.Connection, entity: EntitySet, parent_field: str, limit: int
) -> list[dict[str, object]]:
    sql, params = select_sql(entity_query(entity, filter_node=equals(parent_field, None)), limit)
    rows = await db.fetch(conn, sql, params)
    return [reading.entity_json(row, entity.fields) for row in rows]
