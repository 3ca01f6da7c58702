"""Running a Query API plan: one statement per root and one per nested relation level (never one per row)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import asyncpg

from services.odata import db
from services.odata.query import QueryOptionError, related_sql, select_sql
from services.odata.query_language import RootPlan, Selection
from services.odata.reading import MAX_EXPANDED_ROWS, entity_json
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


async def run_plans(conn: asyncpg.Connection, plans: Sequence[RootPlan]) -> dict[str, list[dict[str, object]]]:
    answer: dict[str, list[dict[str, object]]] = {}
    for plan in plans:
        entity = plan.query.entity
        query = replace(plan.query, select=fetched_columns(entity, plan.selection))
        sql, params = select_sql(query, plan.query.top or 0)
        records = await db.fetch(conn, sql, params)
        entities = [entity_json(record, plan.selection.fields) for record in records]
        await attach_relations(conn, entity, plan.selection, records, entities, plan.name)
        answer[plan.name] = entities
    return answer


async def attach_relations(
    conn: asyncpg.Connection,
    entity: EntitySet,
    selection: Selection,
    records: list[asyncpg.Record],
    entities: list[dict[str, object]],
    path: str,
) -> None:
    for relation, nested in selection.relations:
        target = ENTITY_SETS[relation.target]
        values = sorted({r[relation.local_field] for r in records if r[relation.local_field] is not None})
        grouped: dict[object, list[dict[str, object]]] = {}
        if values:
            columns = fetched_columns(target, nested, (relation.remote_field,))
            sql, params = related_sql(target, relation.remote_field, columns, values, MAX_EXPANDED_ROWS + 1)
            rows = await db.fetch(conn, sql, params)
            if len(rows) > MAX_EXPANDED_ROWS:
                raise QueryOptionError(
                    f"{path}.{relation.name} would return more than {MAX_EXPANDED_ROWS} entities; "
                    "narrow the root with filter or limit",
                    target="query",
                )
            children = [entity_json(row, nested.fields) for row in rows]
            await attach_relations(conn, target, nested, rows, children, f"{path}.{relation.name}")
            for row, child in zip(rows, children, strict=True):
                grouped.setdefault(row[relation.remote_field], []).append(child)
        for record, parent in zip(records, entities, strict=True):
            matches = grouped.get(record[relation.local_field], [])
            parent[relation.name] = matches if relation.many else (matches[0] if matches else None)
