"""System query options ($select, $filter, $orderby, $top, $skip, $count, $search, $expand) read into a
checked ODataQuery, and the SQL that answers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.odata.compiler import FilterCompiler, SqlBuilder
from services.odata.expressions import ExpressionError, ExpressionParser, Node, Property
from services.odata.keyset import OrderItem, SortKey, after_condition, decode_token, order_by, sort_key
from services.odata.search import SearchNode, check_searchable, parse_search_expression, search_sql
from shared.catalog.model import ENTITY_SETS, EntitySet, Field, Relation
from shared.errors import BadRequest, NotImplementedFeature

MAX_QUERY_LENGTH = 8000
MAX_SKIP = 10_000_000
MAX_EXPAND = 5  # navigation properties expanded on one entity
MAX_EXPAND_DEPTH = 3  # levels of nested $expand
MAX_EXPAND_TOTAL = 12  # expanded navigation properties in the whole request
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
    "$apply",
}
UNSUPPORTED_OPTIONS = {"$compute", "$levels", "$deltatoken", "$index", "$schemaversion"}


class QueryOptionError(BadRequest):
    code = "invalid_query_option"


@dataclass(frozen=True)
class Expand:
    relation: Relation
    target: EntitySet
    select: tuple[Field, ...]  # what the client sees
    columns: tuple[Field, ...]  # what is fetched: the selection plus the key and the joining fields
    filter: Node | None = None  # the options below apply per parent entity (collection navigation only)
    orderby: SortKey = ()
    top: int | None = None
    skip: int = 0
    count: bool = False  # <relation>@odata.count beside each parent's collection
    search: SearchNode | None = None
    expand: tuple[Expand, ...] = ()  # nested $expand, applied to the expanded entities


@dataclass(frozen=True)
class ODataQuery:
    entity: EntitySet
    select: tuple[Field, ...]
    explicit_select: bool
    filter: Node | None
    orderby: SortKey
    top: int | None
    skip: int
    count: bool
    search: tuple[str, ...]  # words that must each be a substring of a searchable field (api.php's product search)
    expand: tuple[Expand, ...]
    after: tuple[object, ...] | None = None  # keyset position from $skiptoken
    resources: frozenset[str] = frozenset()  # resources read beyond the entity's own (navigation, lambdas, $expand)
    text_search: SearchNode | None = None  # $search: full-text search over the searchable fields

    @property
    def sort(self) -> SortKey:
        return sort_key(self.entity, self.orderby)


def check_filter(entity: EntitySet, node: Node, option: str) -> set[str]:
    """Compile once so that a type error is a 400 before any SQL runs; the resources the expression reads."""
    compiler = FilterCompiler(entity, SqlBuilder(), option)
    compiler.boolean(node)
    return compiler.resources


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
    if "$apply" in params:
        raise NotImplementedFeature("$apply applies to entity sets only: /odata/products?$apply=...", target="$apply")
    if params.get("$format", "json").split(";")[0] not in ("json", "application/json"):
        raise NotImplementedFeature("Only the JSON format is supported", target="$format")
    select, explicit = parse_select(entity, params.get("$select"), "$select")
    resources: set[str] = set()
    filter_text = params.get("$filter")
    filter_node = ExpressionParser(filter_text, "$filter", aliases).parse() if filter_text is not None else None
    if filter_node is not None:
        resources |= check_filter(entity, filter_node, "$filter")
    orderby = parse_orderby(entity, params.get("$orderby"), aliases, resources=resources)
    expand = parse_expand(entity, params.get("$expand"), aliases)
    resources |= expand_resources(expand)
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
        search=(),
        expand=expand,
        after=decode_token(token, sort_key(entity, orderby)) if token is not None else None,
        resources=frozenset(resources - {entity.resource}),
        text_search=parse_text_search(entity, params.get("$search"), "$search"),
    )


def parse_text_search(entity: EntitySet, text: str | None, option: str) -> SearchNode | None:
    if text is None:
        return None
    check_searchable(entity, option)
    return parse_search_expression(text, option)


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
            if entity.relation(name) is not None or "/" in name or "(" in name:
                raise NotImplementedFeature(f"Selecting {name!r} is not supported; use $expand", target=option)
            raise QueryOptionError(f"{entity.type_name} has no property {name!r}", target=f"{option}/{name[:64]}")
        if model_field not in chosen:
            chosen.append(model_field)
    return tuple(chosen), True


_SORT_TYPES = {
    "number": "Edm.Decimal",
    "string": "Edm.String",
    "boolean": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
}


def parse_orderby(
    entity: EntitySet,
    text: str | None,
    aliases: Mapping[str, str],
    option: str = "$orderby",
    resources: set[str] | None = None,
) -> SortKey:
    """$orderby items: properties of the entity (which must be sortable), navigation paths (category/name) and
    expressions (tolower(name)); the value of a path or expression is typed so a $skiptoken can carry it."""
    if text is None:
        return ()
    items = ExpressionParser(text, option, aliases).parse_order()
    ordered: list[OrderItem] = []
    for index, (node, descending) in enumerate(items):
        if isinstance(node, Property) and "/" not in node.name:
            model_field = entity.field(node.name)
            if model_field is None:
                raise ExpressionError(
                    f"{entity.type_name} has no property {node.name!r} at position {node.position + 1}", target=option
                )
            if not model_field.sortable:
                raise QueryOptionError(f"The property {node.name!r} is not sortable", target=f"{option}/{node.name}")
            ordered.append(OrderItem(model_field, descending))
            continue
        compiler = FilterCompiler(entity, SqlBuilder(), option)
        typed = compiler.compile(node)
        if typed.category == "null":
            raise ExpressionError(f"Ordering by null at position {node.position + 1} orders nothing", target=option)
        if typed.category not in _SORT_TYPES:
            raise ExpressionError(f"Cannot order by an entity (position {node.position + 1})", target=option)
        if resources is not None:
            resources |= compiler.resources
        stand_in = Field(f"odata_sort_{index}", _SORT_TYPES[typed.category], nullable=typed.nullable, sortable=True)
        ordered.append(OrderItem(stand_in, descending, node))
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


_EXPAND_COLLECTION_OPTIONS = ("$filter", "$orderby", "$top", "$skip", "$count", "$search")


@dataclass
class ExpandBudget:
    """How many more navigation properties the request may expand, counted across every level."""

    left: int = MAX_EXPAND_TOTAL


def parse_expand(
    entity: EntitySet,
    text: str | None,
    aliases: Mapping[str, str] | None = None,
    option: str = "$expand",
    depth: int = 1,
    budget: ExpandBudget | None = None,
) -> tuple[Expand, ...]:
    """$expand items: a navigation property with options in parentheses ($select, $expand at any level up to
    MAX_EXPAND_DEPTH, and on collections $filter, $orderby, $top, $skip, $count), or * for every one."""
    if text is None:
        return ()
    budget = budget or ExpandBudget()
    if depth > MAX_EXPAND_DEPTH:
        raise QueryOptionError(f"$expand nests at most {MAX_EXPAND_DEPTH} levels deep", target=option)
    expands: list[Expand] = []
    for raw in split_top_level(text, option):
        item = raw.strip()
        name, _, options = item.partition("(")
        name = name.strip()
        if name == "*":
            if options:
                raise NotImplementedFeature("Options on $expand=* are not supported", target=option)
            names = [relation.name for relation in entity.relations]
        elif "/" in name:
            raise NotImplementedFeature("$expand supports navigation properties, not paths", target=option)
        else:
            names = [name]
        for relation_name in names:
            if any(existing.relation.name == relation_name for existing in expands):
                raise QueryOptionError(f"{relation_name!r} is expanded twice", target=f"{option}/{relation_name}")
            expands.append(_expand_item(entity, relation_name, options, option, aliases or {}, depth, budget))
    if len(expands) > MAX_EXPAND:
        raise QueryOptionError(f"At most {MAX_EXPAND} navigation properties may be expanded", target=option)
    return tuple(expands)


def _expand_item(
    entity: EntitySet,
    name: str,
    options: str,
    option: str,
    aliases: Mapping[str, str],
    depth: int,
    budget: ExpandBudget,
) -> Expand:
    relation = entity.relation(name)
    if relation is None:
        raise QueryOptionError(
            f"{entity.type_name} has no navigation property {name[:64]!r}", target=f"{option}/{name[:64]}"
        )
    budget.left -= 1
    if budget.left < 0:
        raise QueryOptionError(f"A request expands at most {MAX_EXPAND_TOTAL} navigation properties", target=option)
    target = ENTITY_SETS[relation.target]
    here = f"{option}/{name}"
    nested: dict[str, Any] = {"select": target.fields}
    if options:
        if not options.endswith(")"):
            raise QueryOptionError("Malformed $expand options", target=here)
        seen: set[str] = set()
        parts = split_top_level(options[:-1], here, ";")
        if any(part.strip().startswith("@") for part in parts):
            raise NotImplementedFeature("Parameter aliases assigned inside $expand are not supported", target=here)
        for part in parts:
            key, _, value = part.strip().partition("=")
            if key in seen:
                raise QueryOptionError(f"{key[:32]} is given twice", target=f"{here}/{key[:32]}")
            seen.add(key)
            nested.update(_expand_option(relation, target, key, value, f"{here}/{key}", aliases, depth, budget))
    columns = list(nested["select"])
    needed = [target.field(target.key), target.field(relation.remote_field)]
    needed += [target.field(child.relation.local_field) for child in nested.get("expand", ())]
    needed += [item.field for item in nested.get("orderby", ()) if item.expression is None]
    for model_field in needed:
        if model_field is not None and model_field not in columns:
            columns.append(model_field)
    return Expand(relation, target, columns=tuple(columns), **nested)


def _expand_option(
    relation: Relation,
    target: EntitySet,
    key: str,
    value: str,
    option: str,
    aliases: Mapping[str, str],
    depth: int,
    budget: ExpandBudget,
) -> dict[str, Any]:
    if key == "$select":
        return {"select": parse_select(target, value, f"{option}")[0]}
    if key == "$expand":
        return {"expand": parse_expand(target, value, aliases, option, depth + 1, budget)}
    if key not in _EXPAND_COLLECTION_OPTIONS:
        raise NotImplementedFeature(f"{key[:32]!r} is not supported inside $expand", target=option[:100])
    if not relation.many:
        raise QueryOptionError(f"{key} applies only to a collection navigation property", target=option)
    if key == "$filter":
        node = ExpressionParser(value, option, aliases).parse()
        check_filter(target, node, option)
        return {"filter": node}
    if key == "$orderby":
        return {"orderby": parse_orderby(target, value, aliases, option)}
    if key == "$count":
        return {"count": parse_bool(value, option)}
    if key == "$search":
        return {"search": parse_text_search(target, value, option)}
    number = parse_count_option(value, option, MAX_SKIP)
    return {"top": number} if key == "$top" else {"skip": number or 0}


def expand_resources(expands: tuple[Expand, ...]) -> set[str]:
    """Every resource the expansions read: their targets and whatever their filters and orderings reach."""
    resources: set[str] = set()
    for expand in expands:
        resources.add(expand.target.resource)
        if expand.filter is not None:
            resources |= check_filter(expand.target, expand.filter, "$expand")
        for item in expand.orderby:
            if item.expression is not None:
                compiler = FilterCompiler(expand.target, SqlBuilder(), "$expand")
                compiler.compile(item.expression)
                resources |= compiler.resources
        resources |= expand_resources(expand.expand)
    return resources


# ---- SQL -----------------------------------------------------------------------------------------


def search_condition(
    entity: EntitySet, terms: tuple[str, ...], builder: SqlBuilder, alias: str = "t", text: SearchNode | None = None
) -> list[str]:
    conditions = [search_sql(entity, text, builder, alias)] if text is not None else []
    for term in terms:
        placeholder = builder.bind(term.lower(), "text")
        matches = " OR ".join(f'strpos(lower({alias}."{f.name}"), {placeholder}) > 0' for f in entity.searchable_fields)
        conditions.append(f"({matches})")
    return conditions


def sort_columns(sort: SortKey, compiler: FilterCompiler) -> list[str]:
    """The SQL of each sort item: the column, or the compiled path or expression (sharing the filter's joins)."""
    columns = []
    for item in sort:
        if item.expression is None:
            columns.append(f'{compiler.alias}."{item.field.name}"')
        else:
            columns.append(compiler.compile(item.expression).sql)
    return columns


def select_sql(query: ODataQuery, limit: int, key_value: object | None = None) -> tuple[str, list[object]]:
    """One page: `limit` rows after `skip` (or after the $skiptoken row), ordered by the requested items and then
    the key, so paging is stable."""
    entity = query.entity
    builder = SqlBuilder()
    compiler = FilterCompiler(entity, builder, "$filter")
    sort = query.sort
    columns = list(query.select)
    needed = [item.field for item in sort if item.expression is None]
    needed += [relation_field(entity, e.relation) for e in query.expand]
    for model_field in needed:
        if model_field is not None and model_field not in columns:
            columns.append(model_field)
    conditions = []
    if query.filter is not None:
        conditions.append(compiler.boolean(query.filter))
    conditions += search_condition(entity, query.search, builder, text=query.text_search)
    if key_value is not None:
        key_field = entity.field(entity.key)
        assert key_field is not None
        conditions.append(f't."{entity.key}" = {builder.bind(key_value, key_field.sql_type)}')
    sort_sql = sort_columns(sort, compiler)
    if query.after is not None:
        placeholders = [
            None if value is None else builder.bind(value, item.field.sql_type)
            for item, value in zip(sort, query.after, strict=True)
        ]
        conditions.append(after_condition(sort, sort_sql, query.after, placeholders))
    where_sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    column_sql = ", ".join([f't."{f.name}"' for f in columns] + _labelled(sort, sort_sql))
    sql = (
        f"SELECT {column_sql} FROM {entity.qualified_table} AS t{compiler.joins}{where_sql}"
        f" ORDER BY {order_by(sort, sort_sql)}"
        f" LIMIT {builder.bind(limit, 'bigint')} OFFSET {builder.bind(query.skip, 'bigint')}"
    )
    return sql, builder.params


def _labelled(sort: SortKey, sort_sql: list[str]) -> list[str]:
    """Path and expression sort values, selected under their stand-in names for the next $skiptoken."""
    return [f'{sql} AS "{item.field.name}"' for item, sql in zip(sort, sort_sql, strict=True) if item.expression]


def count_sql(query: ODataQuery) -> tuple[str, list[object]]:
    builder = SqlBuilder()
    compiler = FilterCompiler(query.entity, builder, "$filter")
    conditions = [compiler.boolean(query.filter)] if query.filter is not None else []
    conditions += search_condition(query.entity, query.search, builder, text=query.text_search)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT count(*) FROM {query.entity.qualified_table} AS t{compiler.joins}{where}", builder.params


def relation_field(entity: EntitySet, relation: Relation) -> Field | None:
    return entity.field(relation.local_field)


def _expand_conditions(expand: Expand, values: list[object]) -> tuple[Field, SqlBuilder, FilterCompiler, list[str]]:
    """The related rows of these parents under the expansion's $filter and $search: their WHERE conditions."""
    target = expand.target
    remote = target.field(expand.relation.remote_field)
    assert remote is not None
    builder = SqlBuilder()
    compiler = FilterCompiler(target, builder, f"$expand/{expand.relation.name}/$filter")
    conditions = [f't."{remote.name}" = ANY({builder.bind(values, f"{remote.sql_type}[]")})']
    if expand.filter is not None:
        conditions.append(compiler.boolean(expand.filter))
    if expand.search is not None:
        conditions.append(search_sql(target, expand.search, builder))
    return remote, builder, compiler, conditions


def expand_sql(expand: Expand, values: list[object], limit: int) -> tuple[str, list[object]]:
    """The related rows of one level in one statement: target rows whose remote field is one of the parents'
    values. Nested $filter/$orderby/$top/$skip apply per parent, through row_number() over each parent's rows."""
    plain = expand.filter is None and expand.search is None and not expand.orderby and expand.top is None
    plain = plain and not expand.skip
    if plain:
        return related_sql(expand.target, expand.relation.remote_field, expand.columns, values, limit)
    target = expand.target
    remote, builder, compiler, conditions = _expand_conditions(expand, values)
    sort = sort_key(target, expand.orderby)
    order = order_by(sort, sort_columns(sort, compiler))
    column_sql = ", ".join(f't."{f.name}"' for f in expand.columns)
    window = f'row_number() OVER (PARTITION BY t."{remote.name}" ORDER BY {order}) AS odata_row'
    inner = (
        f"SELECT {column_sql}, {window} FROM {target.qualified_table} AS t{compiler.joins}"
        f" WHERE {' AND '.join(conditions)}"
    )
    bounds = [f"e.odata_row > {builder.bind(expand.skip, 'bigint')}"]
    if expand.top is not None:
        bounds.append(f"e.odata_row <= {builder.bind(expand.skip + expand.top, 'bigint')}")
    sql = (
        f"SELECT * FROM ({inner}) AS e WHERE {' AND '.join(bounds)}"
        f" ORDER BY e.odata_row LIMIT {builder.bind(limit, 'bigint')}"
    )
    return sql, builder.params


def expand_count_sql(expand: Expand, values: list[object]) -> tuple[str, list[object]]:
    """$count inside $expand: how many related rows each parent has under the expansion's $filter."""
    target = expand.target
    remote, builder, compiler, conditions = _expand_conditions(expand, values)
    sql = (
        f'SELECT t."{remote.name}" AS parent, count(*) AS count FROM {target.qualified_table} AS t{compiler.joins}'
        f' WHERE {" AND ".join(conditions)} GROUP BY t."{remote.name}"'
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
