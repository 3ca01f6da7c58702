"""The Query API language (POST /api/query), parsed with lark into a checked plan over the entity model.

    # one or more roots; each answers a key of the response object
    products(filter: "stock gt 0 and contains(name, 'Lamp')", order: "price desc, name", limit: 10, offset: 0) {
      id, name, price, stock
      category { name parent { name } }     # nested relations, any depth up to MAX_NESTING
    }
    cheap: products(filter: "price lt 5") { sku price }   # an alias names the key when a set is asked twice

    stats: products(filter: "active eq true") { category_id count total: sum(price) avg(stock) }  # aggregates

Roots are entity sets; fields are properties of the model; a field with braces is a relation. Root arguments:
filter (an OData $filter expression, as a string), order (as OData $orderby), search (an OData $search
expression), limit (default DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE), offset, and page: true / after: "<cursor>"
for a page object; a collection relation takes limit (per parent) and order. A selection holding an aggregate
(count, sum(f), avg(f), min(f), max(f), countdistinct(f)) makes an aggregate root: its plain fields are the groups.
Commas between fields are optional; `#` starts a comment. Every error names its line and column.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from services.odata.aggregation import (
    MAX_GROUP_KEYS,
    Aggregate,
    Aggregation,
    GroupKey,
    OrderKey,
    check_aggregation,
)
from services.odata.apply import parse_result_order
from services.odata.expressions import ExpressionError, ExpressionParser, Node, Property
from services.odata.keyset import OrderItem, SortKey, decode_token, sort_key
from services.odata.query import ODataQuery, check_filter, parse_orderby, parse_text_search
from services.odata.search import SearchNode
from shared.catalog.model import ENTITY_SETS, EntitySet, Field, Relation
from shared.errors import ApiError, BadRequest

MAX_QUERY_LENGTH = 8000
PLAN_CACHE_SIZE = 256
MAX_ROOTS = 10
MAX_NESTING = 3
# Bounded work per document: relation selections (each one more statement) and rows, roots and relations together
# (that one a setting, QUERY_MAX_ROWS).
MAX_RELATIONS = 10
DEFAULT_MAX_ROWS = 10_000

GRAMMAR = r"""
    document: root+
    root: (NAME ":")? NAME arguments? selection
    selection: "{" (member ","?)* "}"
    member: (NAME ":")? NAME (call | arguments)? selection?
    call: "(" NAME ")"
    arguments: "(" argument ("," argument)* ","? ")"
    argument: NAME ":" value
    value: ESCAPED_STRING -> string
         | SIGNED_INT -> integer
         | "true" -> true
         | "false" -> false

    COMMENT: /#[^\n]*/
    %import common.CNAME -> NAME
    %import common.ESCAPED_STRING
    %import common.SIGNED_INT
    %import common.WS
    %ignore WS
    %ignore COMMENT
"""
_PARSER = Lark(GRAMMAR, start="document", parser="lalr", propagate_positions=True)


class QueryLanguageError(BadRequest):
    code = "invalid_query"

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})", target="query")
        self.line = line
        self.column = column

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["line"] = self.line
        body["error"]["column"] = self.column
        return body


class QueryLimitError(QueryLanguageError):
    """A document over one of the documented per-document limits; the answer names the limit and its value."""

    code = "query_limit_exceeded"

    def __init__(self, message: str, limit: str, maximum: int, line: int = 1, column: int = 1) -> None:
        super().__init__(message, line, column)
        self.limit = limit
        self.maximum = maximum

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["limit"] = self.limit
        body["error"]["maximum"] = self.maximum
        return body


def limit_error(node: Token | Tree[Any], message: str, limit: str, maximum: int) -> QueryLimitError:
    position = _at(node, message)
    return QueryLimitError(message, limit, maximum, position.line, position.column)


@dataclass(frozen=True)
class Selection:
    fields: tuple[Field, ...]
    relations: tuple[tuple[Relation, Selection], ...]
    limit: int | None = None  # as a relation's selection: at most this many related rows per parent
    orderby: SortKey = ()  # ... in this order (the key's by default)


@dataclass(frozen=True)
class RootPlan:
    name: str  # the response key
    query: ODataQuery
    selection: Selection
    paged: bool = False  # answer {"items": [...], "hasMore": ..., "cursor": ...} instead of the bare list
    aggregation: Aggregation | None = None  # an aggregate root: groups instead of entities


def _at(token: Token | Tree[Any], message: str) -> QueryLanguageError:
    line = getattr(token, "line", None) or getattr(getattr(token, "meta", None), "line", 1)
    column = getattr(token, "column", None) or getattr(getattr(token, "meta", None), "column", 1)
    return QueryLanguageError(message, int(line), int(column))


_TERMINALS = {
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "NAME": "a name",
    "ESCAPED_STRING": 'a "string"',
    "SIGNED_INT": "a whole number",
    "TRUE": "true",
    "FALSE": "false",
    "$END": "the end of the query",
}


def _syntax_error(error: UnexpectedInput, text: str) -> QueryLanguageError:
    line, column = max(error.line, 1), max(error.column, 1)
    token = getattr(error, "token", None)
    if isinstance(error, UnexpectedEOF) or getattr(token, "type", None) == "$END":
        lines = text.splitlines() or [""]
        return QueryLanguageError("Unexpected end of query; is a '}' missing?", len(lines), len(lines[-1]) + 1)
    if isinstance(error, UnexpectedCharacters):
        return QueryLanguageError(f"Unexpected character {error.char!r}", line, column)
    if isinstance(error, UnexpectedToken):
        expected = sorted(_TERMINALS.get(name, name) for name in error.expected if not name.startswith("__"))
        hint = f"; expected {' or '.join(expected[:6])}" if expected else ""
        return QueryLanguageError(f"Unexpected {str(error.token.value)[:40]!r}{hint}", line, column)
    return QueryLanguageError("Syntax error", line, column)


# Clients send the same few query documents over and over; parsing is most of a call's CPU (about 0.4 ms), and a
# plan is immutable and independent of the caller (permissions are checked on it afterwards), so plans are reused.
@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def parse_query_document(
    text: str, default_limit: int, max_limit: int, max_rows: int = DEFAULT_MAX_ROWS
) -> tuple[RootPlan, ...]:
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryLanguageError(f"The query is longer than {MAX_QUERY_LENGTH} characters", 1, 1)
    if not text.strip():
        raise QueryLanguageError("The query is empty", 1, 1)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    roots = tree.children
    if len(roots) > MAX_ROOTS:
        raise _at(roots[MAX_ROOTS], f"A query holds at most {MAX_ROOTS} roots")
    plans: list[RootPlan] = []
    relations: list[Token] = []
    rows = 0
    for root in roots:
        plan = _root(root, default_limit, max_limit, relations)  # type: ignore[arg-type]
        if any(existing.name == plan.name for existing in plans):
            raise _at(root, f"{plan.name!r} is asked twice; give one an alias (name: {plan.query.entity.name} ...)")
        rows += plan.query.top or 0
        if rows > max_rows:
            raise limit_error(
                root,  # type: ignore[arg-type]
                f"The roots' limits add up to more than {max_rows} rows (limit rows_per_query); lower them",
                "rows_per_query",
                max_rows,
            )
        plans.append(plan)
    return tuple(plans)


def _root(root: Tree[Any], default_limit: int, max_limit: int, relations: list[Token]) -> RootPlan:
    names = [child for child in root.children if isinstance(child, Token)]
    arguments = next((c for c in root.children if isinstance(c, Tree) and c.data == "arguments"), None)
    selection_tree = next(c for c in root.children if isinstance(c, Tree) and c.data == "selection")
    set_token = names[-1]
    entity = ENTITY_SETS.get(str(set_token))
    if entity is None:
        raise _at(set_token, f"Unknown entity set {str(set_token)!r}; one of {', '.join(ENTITY_SETS)}")
    values = _arguments(arguments, _ROOT_ARGUMENTS)
    filter_node: Node | None = None
    resources: set[str] = set()  # what the filter and order reach through navigation, beyond the root's own
    if "filter" in values:
        filter_node = _expression(values["filter"], entity, resources)
    search: SearchNode | None = None
    if "search" in values:
        try:
            search = parse_text_search(entity, _string_value(values["search"]), "search")
        except ApiError as error:
            raise _at(values["search"], error.message) from None
    limit = _int_value(values["limit"], 0, max_limit) if "limit" in values else default_limit
    offset = _int_value(values["offset"], 0, 10_000_000) if "offset" in values else 0
    if "offset" in values and "after" in values:
        raise _at(values["after"], "Give either offset or after (a cursor), not both")
    paged = "after" in values or ("page" in values and values["page"].type == "TRUE")
    if _is_aggregate(selection_tree, entity):
        aggregation = _aggregation(selection_tree, entity, values, filter_node, search, limit, offset, resources)
        query = ODataQuery(
            entity=entity,
            select=(),
            explicit_select=True,
            filter=filter_node,
            orderby=(),
            top=limit,
            skip=aggregation.skip,
            count=False,
            search=(),
            text_search=search,
            expand=(),
            resources=frozenset(resources - {entity.resource}),
        )
        return RootPlan(str(names[0]), query, Selection((), ()), paged, aggregation)
    orderby = _order(values, entity, resources) if "order" in values else ()
    after = None
    if "after" in values:
        try:
            after = decode_token(_string_value(values["after"]), sort_key(entity, orderby))
        except ApiError:
            raise _at(values["after"], "The cursor is not one this service issued for this root") from None
    selection = _selection(selection_tree, entity, 1, relations, max_limit)
    query = ODataQuery(
        entity=entity,
        select=selection.fields,
        explicit_select=True,
        filter=filter_node,
        orderby=orderby,
        top=limit,
        skip=offset,
        count=False,
        search=(),
        text_search=search,
        expand=(),
        after=after,
        resources=frozenset(resources - {entity.resource}),
    )
    return RootPlan(str(names[0]), query, selection, paged)


_ROOT_ARGUMENTS = {"filter", "order", "search", "limit", "offset", "page", "after"}
_RELATION_ARGUMENTS = {"order", "limit"}
_KINDS = {"limit": "integer", "offset": "integer", "page": "boolean"}


def _arguments(tree: Tree[Any] | None, allowed: set[str]) -> dict[str, Token]:
    values: dict[str, Token] = {}
    if tree is None:
        return values
    for argument in tree.children:
        name, value = argument.children
        value_token = value.children[0] if value.children else Token(value.data.upper(), value.data)
        if not value.children:
            value_token.line, value_token.column = name.line, name.column
        key = str(name)
        if key not in allowed:
            raise _at(name, f"Unknown argument {key!r}; one of {', '.join(sorted(allowed))}")
        if key in values:
            raise _at(name, f"The argument {key!r} is given twice")
        kind = _KINDS.get(key, "string")
        if kind != ("boolean" if value.data in ("true", "false") else value.data):
            wanted = {"integer": "a whole number", "string": "a string", "boolean": "true or false"}[kind]
            raise _at(value_token, f"{key} takes {wanted}")
        values[key] = value_token
    return values


def _order(values: dict[str, Token], entity: EntitySet, resources: set[str] | None) -> SortKey:
    token = values["order"]
    try:
        return parse_orderby(entity, _string_value(token), {}, "order", resources)
    except ExpressionError as error:
        raise _at_offset(token, error) from None
    except ApiError as error:
        raise _at(token, error.message) from None


def _string_value(token: Token) -> str:
    try:
        value = json.loads(str(token))
    except ValueError:
        raise _at(token, "Malformed string") from None
    return str(value)


def _int_value(token: Token, minimum: int, maximum: int) -> int:
    value = int(str(token))
    if not minimum <= value <= maximum:
        raise _at(token, f"The value must be between {minimum} and {maximum}")
    return value


def _at_offset(token: Token, error: ExpressionError) -> QueryLanguageError:
    """Point into the string: the expression's own offset counted from the opening quote."""
    line, column = int(token.line or 1), int(token.column or 1)
    if error.position is not None and "\n" not in str(token):
        column += 1 + error.position
    message = error.message.split(" at position ")[0].split(" at the end")[0]
    return QueryLanguageError(message, line, column)


def _expression(token: Token, entity: EntitySet, resources: set[str]) -> Node:
    text = _string_value(token)
    try:
        node = ExpressionParser(text, "filter", {}).parse()
        resources |= check_filter(entity, node, "filter")
    except ExpressionError as error:
        raise _at_offset(token, error) from None
    except ApiError as error:
        raise _at(token, error.message) from None
    return node


def _member_parts(
    member: Tree[Any],
) -> tuple[Token | None, Token, Tree[Any] | None, Tree[Any] | None, Tree[Any] | None]:
    """A member's alias, name, call `(field)`, arguments and nested selection."""
    tokens = [child for child in member.children if isinstance(child, Token)]
    trees = {child.data: child for child in member.children if isinstance(child, Tree)}
    alias = tokens[0] if len(tokens) == 2 else None
    return alias, tokens[-1], trees.get("call"), trees.get("arguments"), trees.get("selection")


def _selection(tree: Tree[Any], entity: EntitySet, depth: int, seen: list[Token], max_limit: int) -> Selection:
    """`seen` collects every relation selected in the whole document, to bound their number."""
    fields: list[Field] = []
    relations: list[tuple[Relation, Selection]] = []
    for member in tree.children:
        alias, name_token, call, arguments, nested = _member_parts(member)
        if alias is not None or call is not None:
            raise _at(alias or name_token, "Aliases and aggregates like sum(price) belong to aggregate roots only")
        relation = entity.relation(str(name_token))
        if relation is None:
            model_field = _selected_field(entity, name_token, arguments, nested)
            if model_field not in fields:
                fields.append(model_field)
            continue
        chosen = _relation_selection(relation, name_token, arguments, nested, relations, depth, seen, max_limit)
        relations.append((relation, chosen))
    if not fields and not relations:
        raise _at(tree, "Select at least one field")
    return Selection(tuple(fields), tuple(relations))


def _selected_field(
    entity: EntitySet, name_token: Token, arguments: Tree[Any] | None, nested: Tree[Any] | None
) -> Field:
    name = str(name_token)
    if arguments is not None:
        raise _at(name_token, "Arguments are only supported on roots and collection relations")
    model_field = entity.field(name)
    if model_field is None:
        raise _at(name_token, f"{entity.type_name} has no field or relation {name!r}")
    if nested is not None:
        raise _at(name_token, f"{name!r} is a field, not a relation")
    return model_field


def _relation_selection(
    relation: Relation,
    name_token: Token,
    arguments: Tree[Any] | None,
    nested: Tree[Any] | None,
    selected: Sequence[tuple[Relation, Selection]],
    depth: int,
    seen: list[Token],
    max_limit: int,
) -> Selection:
    """A relation's nested selection, with the limit and order a collection relation may take; `selected` holds
    the relations its parent already selected."""
    name = str(name_token)
    if nested is None:
        raise _at(name_token, f"{name!r} is a relation: list the fields you want in braces, e.g. {name} {{ id }}")
    if depth > MAX_NESTING:
        raise _at(name_token, f"Relations nest at most {MAX_NESTING} levels deep")
    if any(chosen is relation for chosen, _ in selected):
        raise _at(name_token, f"The relation {name!r} is selected twice; select it once")
    seen.append(name_token)
    if len(seen) > MAX_RELATIONS:
        raise limit_error(
            name_token,
            f"A query selects at most {MAX_RELATIONS} relations (limit relations_per_query)",
            "relations_per_query",
            MAX_RELATIONS,
        )
    target = ENTITY_SETS[relation.target]
    chosen = _selection(nested, target, depth + 1, seen, max_limit)
    if arguments is None:
        return chosen
    if not relation.many:
        raise _at(name_token, f"{name!r} is a single entity; limit and order apply to collections")
    values = _arguments(arguments, _RELATION_ARGUMENTS)
    limit = _int_value(values["limit"], 1, max_limit) if "limit" in values else None
    orderby = _order(values, target, None) if "order" in values else ()
    if any(item.expression is not None for item in orderby):
        raise _at(values["order"], "A relation is ordered by its own properties only")
    return replace(chosen, limit=limit, orderby=orderby)


# ---- aggregate roots -------------------------------------------------------------------------------

_QUERY_METHODS = {"sum": "sum", "avg": "average", "min": "min", "max": "max", "countdistinct": "countdistinct"}


def _is_aggregate(tree: Tree[Any], entity: EntitySet) -> bool:
    """A root whose selection holds an aggregate (`count`, `sum(price)`, ...) answers groups, not entities."""
    for member in tree.children:
        _, name_token, call, _, nested = _member_parts(member)
        name = str(name_token)
        if call is not None or (name == "count" and nested is None and entity.field(name) is None):
            return True
    return False


def _aggregation(
    tree: Tree[Any],
    entity: EntitySet,
    values: dict[str, Token],
    filter_node: Node | None,
    search: SearchNode | None,
    limit: int,
    offset: int,
    resources: set[str],
) -> Aggregation:
    """The fields of an aggregate root are its groups (like SQL's GROUP BY), reached through single-valued
    relations too (`category { name }`); the aggregates are named by an alias or `<method>_<field>`."""
    groups: list[GroupKey] = []
    aggregates: list[Aggregate] = []
    _aggregate_members(tree, entity, (), groups, aggregates)
    names = [group.name for group in groups] + [aggregate.alias for aggregate in aggregates]
    for position, name in enumerate(names):
        if name in names[:position]:
            raise _at(tree, f"{name!r} is named twice in the selection; give one an alias")
    plan = Aggregation(entity, groups=tuple(groups), aggregates=tuple(aggregates))
    orderby: tuple[OrderKey, ...] = ()
    if "order" in values:
        try:
            orderby = parse_result_order(plan, _string_value(values["order"]), "order")
        except ApiError as error:
            raise _at(values["order"], error.message) from None
    if "after" in values:
        offset = _cursor_offset(values["after"])
    plan = Aggregation(
        entity,
        filters=(filter_node,) if filter_node is not None else (),
        searches=(search,) if search is not None else (),
        groups=plan.groups,
        aggregates=plan.aggregates,
        orderby=orderby,
        top=limit,
        skip=offset,
    )
    try:
        resources |= check_aggregation(plan, "query")
    except ApiError as error:
        raise _at(tree, error.message) from None
    return plan


def _aggregate_members(
    tree: Tree[Any], entity: EntitySet, path: tuple[str, ...], groups: list[GroupKey], aggregates: list[Aggregate]
) -> None:
    for member in tree.children:
        alias, name_token, call, arguments, nested = _member_parts(member)
        name = str(name_token)
        if arguments is not None:
            raise _at(name_token, "Arguments are not supported inside an aggregate root")
        if call is not None or (name == "count" and nested is None and entity.field(name) is None):
            if path:
                raise _at(name_token, "Aggregates belong at the top of an aggregate root's selection")
            aggregates.append(_aggregate(entity, alias, name_token, call))
            continue
        if alias is not None:
            raise _at(alias, "Aliases name aggregates only")
        relation = entity.relation(name)
        if relation is not None:
            if relation.many or nested is None:
                raise _at(name_token, f"An aggregate root groups by fields and single relations; {name!r} is not one")
            if len(path) >= MAX_NESTING:
                raise _at(name_token, f"Relations nest at most {MAX_NESTING} levels deep")
            _aggregate_members(nested, ENTITY_SETS[relation.target], (*path, name), groups, aggregates)
            continue
        if entity.field(name) is None:
            raise _at(name_token, f"{entity.type_name} has no field or relation {name!r}")
        if nested is not None:
            raise _at(name_token, f"{name!r} is a field, not a relation")
        if len(groups) >= MAX_GROUP_KEYS:
            raise _at(name_token, f"An aggregate root groups by at most {MAX_GROUP_KEYS} fields")
        groups.append(GroupKey((*path, name), 0))


def _aggregate(entity: EntitySet, alias: Token | None, name_token: Token, call: Tree[Any] | None) -> Aggregate:
    name = str(name_token)
    if call is None:
        return Aggregate(str(alias) if alias is not None else "count", "count")
    method = _QUERY_METHODS.get(name)
    if method is None:
        raise _at(name_token, f"Unknown aggregate {name!r}; one of count, {', '.join(_QUERY_METHODS)}")
    field_token = call.children[0]
    if entity.field(str(field_token)) is None:
        raise _at(field_token, f"{entity.type_name} has no field {str(field_token)!r}")
    if alias is not None and entity.field(str(alias)) is not None:
        raise _at(alias, f"The alias {str(alias)!r} is a field of {entity.type_name}")
    key = str(alias) if alias is not None else f"{name}_{field_token}"
    return Aggregate(key, method, Property(str(field_token), 0))


def _cursor_offset(token: Token) -> int:
    offset_key = (OrderItem(Field("offset", "Edm.Int64"), False),)
    try:
        (offset,) = decode_token(_string_value(token), offset_key)
    except ApiError:
        offset = -1
    if not isinstance(offset, int) or not 0 <= offset <= 10_000_000:
        raise _at(token, "The cursor is not one this service issued for this root")
    return offset
