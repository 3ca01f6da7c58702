"""The Query API language (POST /api/query), parsed with lark into a checked plan over the entity model.

    # one or more roots; each answers a key of the response object
    products(filter: "stock gt 0 and contains(name, 'Lamp')", order: "price desc, name", limit: 10, offset: 0) {
      id, name, price, stock
      category { name parent { name } }     # nested relations, any depth up to MAX_NESTING
    }
    cheap: products(filter: "price lt 5") { sku price }   # an alias names the key when a set is asked twice

Roots are entity sets; fields are properties of the model; a field with braces is a relation. Root arguments:
filter (an OData $filter expression, as a string), order (as OData $orderby), search (words that must all match
the searchable fields), limit (default DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE) and offset. Commas between
fields are optional; `#` starts a comment. Every error names its line and column.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from services.odata.expressions import ExpressionError, ExpressionParser, Node
from services.odata.keyset import SortKey
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
    member: NAME arguments? selection?
    arguments: "(" argument ("," argument)* ","? ")"
    argument: NAME ":" value
    value: ESCAPED_STRING -> string
         | SIGNED_INT -> integer

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


@dataclass(frozen=True)
class RootPlan:
    name: str  # the response key
    query: ODataQuery
    selection: Selection


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
    values = _arguments(arguments)
    filter_node: Node | None = None
    resources: set[str] = set()  # what the filter and order reach through navigation, beyond the root's own
    if "filter" in values:
        filter_node = _expression(values["filter"], entity, resources)
    orderby: SortKey = ()
    if "order" in values:
        token = values["order"]
        try:
            orderby = parse_orderby(entity, _string_value(token), {}, "order", resources)
        except ExpressionError as error:
            raise _at_offset(token, error) from None
        except ApiError as error:
            raise _at(token, error.message) from None
    search: SearchNode | None = None
    if "search" in values:
        try:
            search = parse_text_search(entity, _string_value(values["search"]), "search")
        except ApiError as error:
            raise _at(values["search"], error.message) from None
    limit = _int_value(values["limit"], 0, max_limit) if "limit" in values else default_limit
    offset = _int_value(values["offset"], 0, 10_000_000) if "offset" in values else 0
    selection = _selection(selection_tree, entity, 1, relations)
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
        resources=frozenset(resources - {entity.resource}),
    )
    return RootPlan(str(names[0]), query, selection)


_ARGUMENTS = {"filter", "order", "search", "limit", "offset"}


def _arguments(tree: Tree[Any] | None) -> dict[str, Token]:
    values: dict[str, Token] = {}
    if tree is None:
        return values
    for argument in tree.children:
        name, value = argument.children
        value_token = value.children[0]
        key = str(name)
        if key not in _ARGUMENTS:
            raise _at(name, f"Unknown argument {key!r}; one of {', '.join(sorted(_ARGUMENTS))}")
        if key in values:
            raise _at(name, f"The argument {key!r} is given twice")
        expects_int = key in ("limit", "offset")
        if expects_int != (value.data == "integer"):
            raise _at(value_token, f"{key} takes {'a whole number' if expects_int else 'a string'}")
        values[key] = value_token
    return values


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


def _selection(tree: Tree[Any], entity: EntitySet, depth: int, seen: list[Token]) -> Selection:
    """`seen` collects every relation selected in the whole document, to bound their number."""
    fields: list[Field] = []
    relations: list[tuple[Relation, Selection]] = []
    for member in tree.children:
        name_token = member.children[0]
        name = str(name_token)
        rest = [child for child in member.children[1:] if isinstance(child, Tree)]
        if any(child.data == "arguments" for child in rest):
            raise _at(name_token, "Arguments are only supported on roots")
        nested = next((child for child in rest if child.data == "selection"), None)
        relation = entity.relation(name)
        if relation is not None:
            if nested is None:
                raise _at(
                    name_token, f"{name!r} is a relation: list the fields you want in braces, e.g. {name} {{ id }}"
                )
            if depth > MAX_NESTING:
                raise _at(name_token, f"Relations nest at most {MAX_NESTING} levels deep")
            if any(chosen is relation for chosen, _ in relations):
                raise _at(name_token, f"The relation {name!r} is selected twice; select it once")
            seen.append(name_token)
            if len(seen) > MAX_RELATIONS:
                raise limit_error(
                    name_token,
                    f"A query selects at most {MAX_RELATIONS} relations (limit relations_per_query)",
                    "relations_per_query",
                    MAX_RELATIONS,
                )
            relations.append((relation, _selection(nested, ENTITY_SETS[relation.target], depth + 1, seen)))
            continue
        model_field = entity.field(name)
        if model_field is None:
            raise _at(name_token, f"{entity.type_name} has no field or relation {name!r}")
        if nested is not None:
            raise _at(name_token, f"{name!r} is a field, not a relation")
        if model_field not in fields:
            fields.append(model_field)
    if not fields and not relations:
        raise _at(tree, "Select at least one field")
    return Selection(tuple(fields), tuple(relations))
