"""Running a Query API plan: one statement per root and one per nested relation level (never one per row).

A document reads at most QUERY_MAX_ROWS rows, roots and relations together: every related statement asks the database
for no more than what is left of that budget (plus one, to tell that it would be exceeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import asyncpg

from services.odata import db
from services.odata.query import related_sql, select_sql
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
    names = (entity.key, *extra, *(relation.local_field for relation, _ in selection.relations))
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
) -> dict[str, list[dict[str, object]]]:
    answer: dict[str, list[dict[str, object]]] = {}
    budget = RowBudget(max_rows)
    for plan in plans:
        entity = plan.query.entity
        query = replace(plan.query, select=fetched_columns(entity, plan.selection))
        sql, params = select_sql(query, plan.query.top or 0)
        records = await db.fetch(conn, sql, params)
        budget.spend(len(records), plan.name)
        entities = [entity_json(record, plan.selection.fields) for record in records]
        await attach_relations(conn, entity, plan.selection, records, entities, plan.name, budget)
        answer[plan.name] = entities
    return answer


async def attach_relations(
    conn: asyncpg.Connection,
    entity: EntitySet,
    selection: Selection,
    records: list[asyncpg.Record],
    entities: list[dict[str, object]],
    path: str,
    budget: RowBudget,
) -> None:
    for relation, nested in selection.relations:
        target = ENTITY_SETS[relation.target]
        values = sorted({r[relation.local_field] for r in records if r[relation.local_field] is not None})
        grouped: dict[object, list[dict[str, object]]] = {}
        if values:
            columns = fetched_columns(target, nested, (relation.remote_field,))
            sql, params = related_sql(target, relation.remote_field, columns, values, budget.left + 1)
            rows = await db.fetch(conn, sql, params)
            budget.spend(len(rows), f"{path}.{relation.name}")
            children = [entity_json(row, nested.fields) for row in rows]
            await attach_relations(conn, target, nested, rows, children, f"{path}.{relation.name}", budget)
            for row, child in zip(rows, children, strict=True):
                grouped.setdefault(row[relation.remote_field], []).append(child)
        for record, parent in zip(records, entities, strict=True):
            matches = grouped.get(record[relation.local_field], [])
            parent[relation.name] = matches if relation.many else (matches[0] if matches else None)
