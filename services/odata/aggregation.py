"""Grouping and aggregation, shared by OData's $apply (services/odata/apply.py) and the Query API's aggregate
roots: one checked plan, one SQL statement (GROUP BY over the filtered rows), one row shape.

Aggregation methods follow the OData Data Aggregation extension (Org.OData.Aggregation.V1 AggregationMethod):
sum, min, max and average ignore null values and are null when none is left (as SQL's aggregates are);
countdistinct counts the distinct non-null values; $count counts the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from services.odata import db
from services.odata.compiler import FilterCompiler, SqlBuilder, Typed
from services.odata.expressions import ExpressionError, Node, Property
from services.odata.reading import json_value
from services.odata.search import SearchNode, search_sql
from shared.catalog.model import EntitySet
from shared.errors import BadRequest

MAX_GROUP_KEYS = 10
MAX_AGGREGATES = 20
METHODS = ("sum", "min", "max", "average", "countdistinct", "count")
_SQL = {
    "sum": "sum({})",
    "min": "min({})",
    "max": "max({})",
    "average": "avg({})",
    "countdistinct": "count(DISTINCT {})",
}
# Which operand types each method takes (count takes none).
_OPERANDS = {
    "sum": ("number",),
    "average": ("number",),
    "min": ("number", "string", "datetime"),
    "max": ("number", "string", "datetime"),
    "countdistinct": ("number", "string", "datetime", "boolean"),
}
_EDM = {"number": "Decimal", "string": "String", "datetime": "DateTimeOffset", "boolean": "Boolean"}


class AggregationError(BadRequest):
    code = "invalid_aggregation"


@dataclass(frozen=True)
class GroupKey:
    """A grouping property: a property of the entity, or a path through single-valued navigation
    (`category/name`), answered as a nested object."""

    path: tuple[str, ...]
    position: int = 0

    @property
    def name(self) -> str:
        return "/".join(self.path)


@dataclass(frozen=True)
class Aggregate:
    alias: str
    method: str  # one of METHODS; count is $count, the number of rows
    operand: Node | None = None


@dataclass(frozen=True)
class OrderKey:
    name: str  # a group key's name (category/name) or an aggregate's alias
    descending: bool


@dataclass(frozen=True)
class Aggregation:
    entity: EntitySet
    filters: tuple[Node, ...] = ()
    searches: tuple[SearchNode, ...] = ()
    groups: tuple[GroupKey, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    orderby: tuple[OrderKey, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    resources: frozenset[str] = frozenset()  # resources read beyond the entity's own (navigation paths)

    @property
    def result_names(self) -> tuple[str, ...]:
        return (*(group.name for group in self.groups), *(aggregate.alias for aggregate in self.aggregates))


@dataclass(frozen=True)
class CompiledAggregation:
    sql: str
    params: list[object]
    count_sql: str  # the number of groups; binds the first len(count_params) of `params`
    count_params: list[object]
    types: dict[str, str]  # result column label -> Edm type name of the value (for @odata.type)


def check_aggregation(plan: Aggregation, option: str) -> set[str]:
    """Compile once to type-check every part (a 400 before any SQL runs); the resources the plan reads."""
    compiler = FilterCompiler(plan.entity, SqlBuilder(), option)
    _compile(plan, compiler, option)
    return compiler.resources


def _operand(compiler: FilterCompiler, aggregate: Aggregate, option: str) -> Typed | None:
    if aggregate.operand is None:
        return None
    typed = compiler.compile(aggregate.operand)
    if typed.category not in _OPERANDS[aggregate.method]:
        position = getattr(aggregate.operand, "position", 0)
        kinds = " or ".join(_OPERANDS[aggregate.method])
        raise ExpressionError(
            f"{aggregate.method} takes a {kinds} value, not {typed.category} (at position {position + 1})",
            target=option,
            position=position,
        )
    return typed


def _compile(plan: Aggregation, compiler: FilterCompiler, option: str) -> tuple[list[str], list[str], dict[str, str]]:
    """The SELECT items (group keys g0.., aggregates a0..), the GROUP BY items and the Edm type of each label."""
    columns: list[str] = []
    grouped: list[str] = []
    types: dict[str, str] = {}
    for index, group in enumerate(plan.groups):
        typed = compiler.compile(Property(group.name, group.position))
        if typed.category not in _EDM:
            raise AggregationError(f"Cannot group by {group.name!r}", target=option)
        columns.append(f'{typed.sql} AS "g{index}"')
        grouped.append(typed.sql)
        types[f"g{index}"] = _EDM[typed.category]
    for index, aggregate in enumerate(plan.aggregates):
        typed = _operand(compiler, aggregate, option)
        if typed is None:
            columns.append(f'count(*) AS "a{index}"')
            types[f"a{index}"] = "Int64"
            continue
        columns.append(f'{_SQL[aggregate.method].format(typed.sql)} AS "a{index}"')
        types[f"a{index}"] = "Int64" if aggregate.method == "countdistinct" else _result_type(aggregate, typed)
    return columns, grouped, types


def _result_type(aggregate: Aggregate, typed: Typed) -> str:
    if aggregate.method in ("min", "max"):
        return _EDM[typed.category]
    return "Decimal"


def _label(plan: Aggregation, name: str) -> str:
    group_names = [group.name for group in plan.groups]
    if name in group_names:
        return f'"g{group_names.index(name)}"'
    return f'"a{[aggregate.alias for aggregate in plan.aggregates].index(name)}"'


def aggregation_sql(plan: Aggregation, limit: int, option: str) -> CompiledAggregation:
    """One statement: the filtered rows grouped by the keys, ordered by the requested result properties and then
    the keys (nulls first ascending, last descending), `limit` groups after `skip`."""
    builder = SqlBuilder()
    compiler = FilterCompiler(plan.entity, builder, option)
    conditions = [compiler.boolean(node) for node in plan.filters]
    conditions += [search_sql(plan.entity, node, builder) for node in plan.searches]
    columns, grouped, types = _compile(plan, compiler, option)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    group_by = f" GROUP BY {', '.join(grouped)}" if grouped else ""
    body = f"FROM {plan.entity.qualified_table} AS t{compiler.joins}{where}{group_by}"
    order = [(_label(plan, key.name), key.descending) for key in plan.orderby]
    order += [(f'"g{index}"', False) for index in range(len(plan.groups))]
    order_sql = ", ".join(
        f"{label} {'DESC NULLS LAST' if descending else 'ASC NULLS FIRST'}" for label, descending in order
    )
    sql = f"SELECT {', '.join(columns)} {body}"
    if order_sql:
        sql += f" ORDER BY {order_sql}"
    # Without groups the answer is one row, whatever the filter leaves.
    count_sql = f"SELECT count(*) FROM (SELECT 1 {body}) AS groups" if grouped else "SELECT 1"
    params = list(builder.params) if grouped else []
    sql += f" LIMIT {builder.bind(limit, 'bigint')} OFFSET {builder.bind(plan.skip, 'bigint')}"
    return CompiledAggregation(sql, builder.params, count_sql, params, types)


def shaped_row(
    plan: Aggregation, record: Mapping[str, object], types: dict[str, str], annotate: bool
) -> dict[str, object]:
    """One group as an object: group keys (nested along navigation paths) and aggregates by alias. `annotate`
    adds OData's `@odata.id: null` (a group is no entity) and `@odata.type` for the values JSON cannot type."""
    row: dict[str, object] = {"@odata.id": None} if annotate else {}
    for index, group in enumerate(plan.groups):
        target = row
        for segment in group.path[:-1]:
            nested = target.setdefault(segment, {"@odata.id": None} if annotate else {})
            assert isinstance(nested, dict)
            target = nested
        target[group.path[-1]] = json_value(record[f"g{index}"])
    for index, aggregate in enumerate(plan.aggregates):
        value = record[f"a{index}"]
        edm = types[f"a{index}"]
        if annotate and edm not in ("String", "Boolean"):
            row[f"{aggregate.alias}@odata.type"] = f"#{edm}"
        row[aggregate.alias] = int(value) if edm == "Int64" and value is not None else json_value(value)
    return row


def context_projection(plan: Aggregation) -> str:
    """The select list of the context URL: `(category_id,Total)`, nested along paths: `(category(name),Total)`."""
    tree: dict[str, dict[str, object]] = {}
    for group in plan.groups:
        node = tree
        for segment in group.path:
            node = node.setdefault(segment, {})  # type: ignore[assignment]
    for aggregate in plan.aggregates:
        tree.setdefault(aggregate.alias, {})

    def render(node: dict[str, object]) -> str:
        return ",".join(f"{name}({render(child)})" if child else name for name, child in node.items())  # type: ignore[arg-type]

    return f"({render(tree)})"


@dataclass(frozen=True)
class GroupPage:
    rows: list[dict[str, object]]
    count: int | None
    next_skip: int | None  # where the next page starts, when more groups follow
    next_top: int | None


async def read_groups(
    conn: asyncpg.Connection, plan: Aggregation, default_size: int, max_size: int, annotate: bool = True
) -> GroupPage:
    """One page of groups: $top (or the default page size) bounded by the maximum page size."""
    wanted = plan.top if plan.top is not None else default_size
    size = min(wanted, max_size)
    may_continue = plan.top is None or plan.top > size
    compiled = aggregation_sql(plan, size + 1 if may_continue else size, "$apply")
    records = await db.fetch(conn, compiled.sql, compiled.params)
    more = may_continue and len(records) > size
    rows = [shaped_row(plan, record, compiled.types, annotate) for record in records[:size]]
    count = await db.fetch_count(conn, compiled.count_sql, compiled.count_params) if plan.count else None
    next_top = plan.top - size if plan.top is not None and more else None
    return GroupPage(rows, count, plan.skip + size if more else None, next_top)
