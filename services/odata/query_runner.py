"""Running a Query API plan: one statement per root and one per nested relation level (never one per row).

A document reads at most QUERY_MAX_ROWS rows, roots and relations together: every related statement asks the database
for no more than what is left of that budget (plus one, to tell that it would be exceeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import asyncpg

from services.odata import db
from services.odata.aggregation import Aggregation, aggregation_sql, shaped_row
from services.odata.keyset import encode_token
from services.odata.query import Expand, expand_count_sql, expand_sql, related_sql, select_sql
from services.odata.query_language import DEFAULT_MAX_ROWS, QueryLimitError, RootPlan, Selection
from services.odata.reading import entity_json
from shared.catalog.model import ENTITY_SETS, EntitySet, Field
from shared.principal import Principal


def required_resources(plans: Sequence[RootPlan]) -> list[str]:
    """Every resource the plans read, roots first, so a nested relation the caller may not read is refused."""
    resources: list[str] = []

    def visit(entity: EntitySet, selection: Selection) -> None:
        if entity.resource not in resources:
            resources.append(entity.resource)
        for relation, nested in selection.relations:
            visit(ENTITY_SETS[relation.target], nested)

    for plan in plans:
        visit(plan.query.entity, plan.selection)
        resources.extend(sorted(plan.query.resources - set(resources)))
    return resources


def authorize(principal: Principal, plans: Sequence[RootPlan]) -> None:
    for resource in required_resources(plans):
        principal.require(resource, "read")


def fetched_columns(entity: EntitySet, selection: Selection, extra: tuple[str, ...] = ()) -> tuple[Field, ...]:
    columns = list(selection.fields)
    names = (
        entity.key,
        *extra,
        *(relation.local_field for relation, _ in selection.relations),
        *(item.field.name for item in selection.orderby),
    )
    for name in names:
        model_field = entity.field(name)
        if model_field is not None and model_field not in columns:
            columns.append(model_field)
    return tuple(columns)


class RowBudget:
    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.used = 0

    @property
    def left(self) -> int:
        return self.maximum - self.used

    def spend(self, rows: int, path: str) -> None:
        self.used += rows
        if self.used > self.maximum:
            raise QueryLimitError(
                f"{path} takes the query past {self.maximum} rows in all (limit rows_per_query); "
                "narrow the roots with filter or limit, or select fewer relations",
                "rows_per_query",
                self.maximum,
            )


async def run_plans(
    conn: asyncpg.Connection, plans: Sequence[RootPlan], max_rows: int = DEFAULT_MAX_ROWS
) -> dict[str, object]:
    """Each root's rows under its name. A root with more rows than its limit says so, never cutting silently:
    paged (`page: true` or `after`), {"items": [...], "hasMore": bool, "cursor": str | None}; otherwise the bare
    list, with `<name>@hasMore: true` and `<name>@cursor` beside it when rows were left out."""
    answer: dict[str, object] = {}
    budget = RowBudget(max_rows)
    for plan in plans:
        limit = plan.query.top or 0
        if plan.aggregation is not None:
            rows, more, cursor = await read_aggregate_root(conn, plan.aggregation, limit, plan.name, budget)
        else:
            rows, more, cursor = await read_entity_root(conn, plan, limit, budget)
        if plan.paged:
            answer[plan.name] = {"items": rows, "hasMore": more, "cursor": cursor}
            continue
        answer[plan.name] = rows
        if more:
            answer[f"{plan.name}@hasMore"] = True
            answer[f"{plan.name}@cursor"] = cursor
    return answer


async def read_entity_root(
    conn: asyncpg.Connection, plan: RootPlan, limit: int, budget: RowBudget
) -> tuple[list[dict[str, object]], bool, str | None]:
    """One more row than the limit is read, to tell whether more follow; the cursor is the last row's position in
    the root's order (a keyset, like OData's $skiptoken)."""
    entity = plan.query.entity
    query = replace(plan.query, select=fetched_columns(entity, plan.selection))
    sql, params = select_sql(query, limit + 1)
    records = await db.fetch(conn, sql, params)
    more = len(records) > limit
    records = records[:limit]
    budget.spend(len(records), plan.name)
    entities = [entity_json(record, plan.selection.fields) for record in records]
    await attach_relations(conn, entity, plan.selection, records, entities, plan.name, budget)
    cursor = encode_token([records[-1][item.field.name] for item in query.sort]) if more and records else None
    return entities, more, cursor


async def read_aggregate_root(
    conn: asyncpg.Connection, plan: Aggregation, limit: int, path: str, budget: RowBudget
) -> tuple[list[dict[str, object]], bool, str | None]:
    """Groups, one more than the limit to tell whether more follow; the cursor holds the next group's offset."""
    compiled = aggregation_sql(plan, limit + 1, "query")
    records = await db.fetch(conn, compiled.sql, compiled.params)
    more = len(records) > limit
    records = records[:limit]
    budget.spend(len(records), path)
    rows = [shaped_row(plan, record, compiled.types, annotate=False) for record in records]
    return rows, more, encode_token([plan.skip + limit]) if more else None


async def attach_relations(
    conn: asyncpg.Connection,
    entity: EntitySet,
    selection: Selection,
    records: list[asyncpg.Record],
    entities: list[dict[str, object]],
    path: str,
    budget: RowBudget,
) -> None:
    """One statement per relation and level. A relation with a `limit` keeps that many rows per parent, and a
    parent that has more says so: `<relation>@hasMore: true` and `<relation>@count` (all its related rows)."""
    for relation, nested in selection.relations:
        target = ENTITY_SETS[relation.target]
        values = sorted({r[relation.local_field] for r in records if r[relation.local_field] is not None})
        grouped: dict[object, list[dict[str, object]]] = {}
        totals: dict[object, int] = {}
        here = f"{path}.{relation.name}"
        if values:
            columns = fetched_columns(target, nested, (relation.remote_field,))
            if nested.limit is None and not nested.orderby:
                sql, params = related_sql(target, relation.remote_field, columns, values, budget.left + 1)
            else:
                capped = Expand(relation, target, nested.fields, columns, orderby=nested.orderby, top=nested.limit)
                sql, params = expand_sql(capped, values, budget.left + 1)
            rows = await db.fetch(conn, sql, params)
            budget.spend(len(rows), here)
            children = [entity_json(row, nested.fields) for row in rows]
            await attach_relations(conn, target, nested, rows, children, here, budget)
            for row, child in zip(rows, children, strict=True):
                grouped.setdefault(row[relation.remote_field], []).append(child)
            full = [
                value for value in values if nested.limit is not None and len(grouped.get(value, [])) >= nested.limit
            ]
            if full:
                counted = Expand(relation, target, nested.fields, columns, count=True)
                sql, params = expand_count_sql(counted, full)
                totals = {row["parent"]: int(row["count"]) for row in await db.fetch(conn, sql, params)}
        for record, parent in zip(records, entities, strict=True):
            value = record[relation.local_field]
            matches = grouped.get(value, [])
            parent[relation.name] = matches if relation.many else (matches[0] if matches else None)
            if totals.get(value, 0) > len(matches):
                parent[f"{relation.name}@hasMore"] = True
                parent[f"{relation.name}@count"] = totals[value]
