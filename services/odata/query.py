"""System query options ($select, $filter, $orderby, $top, $skip, $count, $search, $expand) read into a
checked ODataQuery, and the SQL that answers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.odata.compiler import FilterCompiler, SqlBuilder
from services.odata.expressions import ExpressionError, ExpressionParser, Node, Property
from services.odata.keyset import SortKey, after_condition, decode_token, order_by, sort_key
from shared.catalog.model import ENTITY_SETS, EntitySet, Field, Relation
from shared.errors import BadRequest, NotImplementedFeature

MAX_QUERY_LENGTH = 8000
MAX_SKIP = 10_000_000
MAX_SEARCH_TERMS = 10
MAX_EXPAND = 5
SUPPORTED_OPTIONS = {
    "$select",
    "$filter",
    "$orderby",
    "$top",
    "$skip",
    "$skiptoken",
    "$count",
    "$search",
    "$expand",
    "$format",
}
UNSUPPORTED_OPTIONS = {"$apply", "$compute", "$levels", "$deltatoken", "$index", "$schemaversion"}


class QueryOptionError(BadRequest):
    code = "invalid_query_option"


@dataclass(frozen=True)
class Expand:
    relation: Relation
    target: EntitySet
    select: tuple[Field, ...]  # what the client sees
    columns: tuple[Field, ...]  # what is fetched: the selection plus the key and the joining field
    filter: Node | None = None  # the options below apply per parent entity (collection navigation only)
    orderby: tuple[tuple[Field, bool], ...] = ()
    top: int | None = None
    skip: int = 0


@dataclass(frozen=True)
class ODataQuery:
    entity: EntitySet
    select: tuple[Field, ...]
    explicit_select: bool
    filter: Node | None
    orderby: tuple[tuple[Field, bool], ...]
    top: int | None
    skip: int
    count: bool
    search: tuple[str, ...]
    expand: tuple[Expand, ...]
    after: tuple[object, ...] | None = None  # keyset position from $skiptoken

    @property
    def sort(self) -> SortKey:
        return sort_key(self.entity, self.orderby)


def parse_query(entity: EntitySet, params: Mapping[str, str], raw_query: str) -> ODataQuery:
    if len(raw_query) > MAX_QUERY_LENGTH:
        raise QueryOptionError(f"The query string is longer than {MAX_QUERY_LENGTH} characters", target="query")
    aliases = {name: value for name, value in params.items() if name.startswith("@")}
    for name in params:
        if name.startswith("$"):
            if name in UNSUPPORTED_OPTIONS:
                raise NotImplementedFeature(f"The query option {name} is not supported", target=name)
            if name not in SUPPORTED_OPTIONS:
                raise QueryOptionError(f"Unknown system query option {name}", target=name)
    if params.get("$format", "json").split(";")[0] not in ("json", "application/json"):
        raise NotImplementedFeature("Only the JSON format is supported", target="$format")
    select, explicit = parse_select(entity, params.get("$select"), "$select")
    filter_text = params.get("$filter")
    filter_node = ExpressionParser(filter_text, "$filter", aliases).parse() if filter_text is not None else None
    if filter_node is not None:
        # Compile once here so a type error is reported before any SQL runs.
        FilterCompiler(entity, SqlBuilder(), "$filter").boolean(filter_node)
    orderby = parse_orderby(entity, params.get("$orderby"), aliases)
    token = params.get("$skiptoken")
    return ODataQuery(
        entity=entity,
        select=select,
        explicit_select=explicit,
        filter=filter_node,
        orderby=orderby,
        top=parse_count_option(params.get("$top"), "$top", 2**31),
        skip=parse_count_option(params.get("$skip"), "$skip", MAX_SKIP) or 0,
        count=parse_bool(params.get("$count"), "$count"),
        search=parse_search(params.get("$search")),
        expand=parse_expand(entity, params.get("$expand"), aliases),
        after=decode_token(token, sort_key(entity, orderby)) if token is not None else None,
    )


def parse_select(entity: EntitySet, text: str | None, option: str) -> tuple[tuple[Field, ...], bool]:
    if text is None or text.strip() == "*":
        return entity.fields, False
    chosen: list[Field] = []
    for raw in text.split(","):
        name = raw.strip()
        if name == "*":
            return entity.fields, False
        model_field = entity.field(name)
        if model_field is None:
            if entity.relation(name) is not None or "/" in name:
                raise NotImplementedFeature(f"Selecting {name!r} is not supported; use $expand", target=option)
            raise QueryOptionError(f"{entity.type_name} has no property {name!r}", target=f"{option}/{name[:64]}")
        if model_field not in chosen:
            chosen.append(model_field)
    return tuple(chosen), True


def parse_orderby(entity: EntitySet, text: str | None, aliases: Mapping[str, str]) -> tuple[tuple[Field, bool], ...]:
    if text is None:
        return ()
    items = ExpressionParser(text, "$orderby", aliases).parse_order()
    ordered: list[tuple[Field, bool]] = []
    for node, descending in items:
        if not isinstance(node, Property):
            raise NotImplementedFeature("$orderby supports properties only, not expressions", target="$orderby")
        model_field = entity.field(node.name)
        if model_field is None and entity.relation(node.name.split("/")[0]) is not None:
            raise NotImplementedFeature("Ordering by a navigation path is not supported", target="$orderby")
        if model_field is None:
            raise ExpressionError(
                f"{entity.type_name} has no property {node.name!r} at position {node.position + 1}",
                target="$orderby",
            )
        if not model_field.sortable:
            raise QueryOptionError(f"The property {node.name!r} is not sortable", target=f"$orderby/{node.name}")
        ordered.append((model_field, descending))
    return tuple(ordered)


def parse_count_option(text: str | None, option: str, maximum: int) -> int | None:
    if text is None:
        return None
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise QueryOptionError(f"{option} must be a non-negative whole number", target=option)
    number = int(value)
    if number > maximum:
        raise QueryOptionError(f"{option} must be at most {maximum}", target=option)
    return number


def parse_bool(text: str | None, option: str) -> bool:
    if text is None:
        return False
    if text not in ("true", "false"):
        raise QueryOptionError(f"{option} must be true or false", target=option)
    return text == "true"


def parse_search(text: str | None) -> tuple[str, ...]:
    """$search: words and "quoted phrases", all of which must match; OR, NOT and grouping are not supported."""
    if text is None:
        return ()
    terms: list[str] = []
    rest = text.strip()
    while rest:
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end < 0:
                raise QueryOptionError("Unterminated phrase in $search", target="$search")
            term, rest = rest[1:end], rest[end + 1 :].lstrip()
        else:
            term, _, rest = rest.partition(" ")
            rest = rest.lstrip()
            if term in ("OR", "NOT") or term.startswith(("(", "-")):
                raise NotImplementedFeature("$search supports words and phrases only", target="$search")
            if term == "AND":
                continue
        if term:
            terms.append(term)
    if not terms:
        raise QueryOptionError("$search is empty", target="$search")
    if len(terms) > MAX_SEARCH_TERMS:
        raise QueryOptionError(f"$search takes at most {MAX_SEARCH_TERMS} terms", target="$search")
    return tuple(terms)


def split_top_level(text: str, option: str, separator: str = ",") -> list[str]:
    """Split on `separator` outside parentheses and 'string literals'."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in text:
        if char == "'":
            quoted = not quoted  # a doubled '' toggles twice, which is right
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise QueryOptionError("Unbalanced parentheses", target=option)
        if char == separator and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0 or quoted:
        raise QueryOptionError("Unbalanced parentheses or quotes", target=option)
    parts.append("".join(current))
    return parts


_EXPAND_COLLECTION_OPTIONS = ("$filter", "$orderby", "$top", "$skip")


def parse_expand(entity: EntitySet, text: str | None, aliases: Mapping[str, str] | None = None) -> tuple[Expand, ...]:
    if text is None:
        return ()
    expands: list[Expand] = []
    for raw in split_top_level(text, "$expand"):
        item = raw.strip()
        name, _, options = item.partition("(")
        name = name.strip()
        if name == "*" or "/" in name:
            raise NotImplementedFeature("$expand supports direct navigation properties only", target="$expand")
        relation = entity.relation(name)
        if relation is None:
            raise QueryOptionError(
                f"{entity.type_name} has no navigation property {name[:64]!r}", target=f"$expand/{name[:64]}"
            )
        target = ENTITY_SETS[relation.target]
        nested: dict[str, Any] = {"select": target.fields}
        if options:
            if not options.endswith(")"):
                raise QueryOptionError("Malformed $expand options", target=f"$expand/{name}")
            for option in split_top_level(options[:-1], f"$expand/{name}", ";"):
                key, _, value = option.strip().partition("=")
                nested.update(_expand_option(relation, target, key, value, f"$expand/{name}/{key}", aliases or {}))
        columns = list(nested["select"])
        for needed in (target.field(target.key), target.field(relation.remote_field)):
            if needed is not None and needed not in columns:
                columns.append(needed)
        for model_field, _ in nested.get("orderby", ()):
            if model_field not in columns:
                columns.append(model_field)
        expands.append(Expand(relation, target, columns=tuple(columns), **nested))
    if len(expands) > MAX_EXPAND:
        raise QueryOptionError(f"At most {MAX_EXPAND} navigation properties may be expanded", target="$expand")
    return tuple(expands)


def _expand_option(
    relation: Relation, target: EntitySet, key: str, value: str, option: str, aliases: Mapping[str, str]
) -> dict[str, Any]:
    if key == "$select":
        return {"select": parse_select(target, value, f"{option}")[0]}
    if key not in _EXPAND_COLLECTION_OPTIONS:
        raise NotImplementedFeature(f"{key[:32]!r} is not supported inside $expand", target=option[:100])
    if not relation.many:
        raise QueryOptionError(f"{key} applies only to a collection navigation property", target=option)
    if key == "$filter":
        node = ExpressionParser(value, option, aliases).parse()
        FilterCompiler(target, SqlBuilder(), option).boolean(node)
        return {"filter": node}
    if key == "$orderby":
        return {"orderby": parse_orderby(target, value, aliases)}
    number = parse_count_option(value, option, MAX_SKIP)
    return {"top": number} if key == "$top" else {"skip": number or 0}


# ---- SQL -----------------------------------------------------------------------------------------


def where_clause(query: ODataQuery, builder: SqlBuilder) -> str:
    conditions: list[str] = []
    if query.filter is not None:
        conditions.append(FilterCompiler(query.entity, builder, "$filter").boolean(query.filter))
    searchable = query.entity.searchable_fields
    for term in query.search:
        placeholder = builder.bind(term.lower(), "text")
        matches = " OR ".join(f'strpos(lower(t."{f.name}"), {placeholder}) > 0' for f in searchable)
        conditions.append(f"({matches})")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def select_sql(query: ODataQuery, limit: int, key_value: object | None = None) -> tuple[str, list[object]]:
    """One page: `limit` rows after `skip` (or after the $skiptoken row), ordered by the requested fields and then
    the key, so paging is stable."""
    entity = query.entity
    builder = SqlBuilder()
    sort = query.sort
    columns = list(query.select)
    needed = [field for field, _ in sort] + [relation_field(entity, e.relation) for e in query.expand]
    for model_field in needed:
        if model_field is not None and model_field not in columns:
            columns.append(model_field)
    conditions = []
    where = where_clause(query, builder)
    if where:
        conditions.append(where.removeprefix(" WHERE "))
    if key_value is not None:
        key_field = entity.field(entity.key)
        assert key_field is not None
        conditions.append(f't."{entity.key}" = {builder.bind(key_value, key_field.sql_type)}')
    if query.after is not None:
        placeholders = [
            None if value is None else builder.bind(value, f.sql_type)
            for (f, _), value in zip(sort, query.after, strict=True)
        ]
        conditions.append(after_condition(sort, query.after, placeholders))
    where_sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = order_by(sort)
    column_sql = ", ".join(f't."{f.name}"' for f in columns)
    sql = (
        f"SELECT {column_sql} FROM {entity.qualified_table} AS t{where_sql} ORDER BY {order}"
        f" LIMIT {builder.bind(limit, 'bigint')} OFFSET {builder.bind(query.skip, 'bigint')}"
    )
    return sql, builder.params


def count_sql(query: ODataQuery) -> tuple[str, list[object]]:
    builder = SqlBuilder()
    where = where_clause(query, builder)
    return f"SELECT count(*) FROM {query.entity.qualified_table} AS t{where}", builder.params


def relation_field(entity: EntitySet, relation: Relation) -> Field | None:
    return entity.field(relation.local_field)


def expand_sql(expand: Expand, values: list[object], limit: int) -> tuple[str, list[object]]:
    """The related rows of one page in one query: target rows whose remote field is one of the page's values.
    Nested $filter/$orderby/$top/$skip apply per parent, through row_number() over each parent's rows."""
    plain = expand.filter is None and not expand.orderby and expand.top is None and not expand.skip
    if plain:
        return related_sql(expand.target, expand.relation.remote_field, expand.columns, values, limit)
    target = expand.target
    remote = target.field(expand.relation.remote_field)
    assert remote is not None
    builder = SqlBuilder()
    conditions = [f't."{remote.name}" = ANY({builder.bind(values, f"{remote.sql_type}[]")})']
    if expand.filter is not None:
        option = f"$expand/{expand.relation.name}/$filter"
        conditions.append(FilterCompiler(target, builder, option).boolean(expand.filter))
    order = order_by(sort_key(target, expand.orderby))
    column_sql = ", ".join(f't."{f.name}"' for f in expand.columns)
    window = f'row_number() OVER (PARTITION BY t."{remote.name}" ORDER BY {order}) AS odata_row'
    inner = f"SELECT {column_sql}, {window} FROM {target.qualified_table} AS t WHERE {' AND '.join(conditions)}"
    bounds = [f"e.odata_row > {builder.bind(expand.skip, 'bigint')}"]
    if expand.top is not None:
        bounds.append(f"e.odata_row <= {builder.bind(expand.skip + expand.top, 'bigint')}")
    sql = (
        f"SELECT * FROM ({inner}) AS e WHERE {' AND '.join(bounds)}"
        f" ORDER BY e.odata_row LIMIT {builder.bind(limit, 'bigint')}"
    )
    return sql, builder.params


def related_sql(
    target: EntitySet, remote_field: str, columns: tuple[Field, ...], values: list[object], limit: int
) -> tuple[str, list[object]]:
    remote = target.field(remote_field)
    assert remote is not None
    builder = SqlBuilder()
    column_sql = ", ".join(f't."{f.name}"' for f in columns)
    placeholder = builder.bind(values, f"{remote.sql_type}[]")
    sql = (
        f'SELECT {column_sql} FROM {target.qualified_table} AS t WHERE t."{remote.name}" = ANY({placeholder})'
        f' ORDER BY t."{target.key}" LIMIT {builder.bind(limit, "bigint")}'
    )
    return sql, builder.params
