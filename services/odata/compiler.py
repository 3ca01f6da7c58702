"""Compile an expression AST to a PostgreSQL fragment: values become $n binds with explicit casts, identifiers
come only from the entity model, and every operand is type-checked so a bad query is a 400, never an SQL error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.odata.expressions import Binary, Call, ExpressionError, In, Literal, Node, Property, Unary
from shared.catalog.model import EntitySet
from shared.errors import NotImplementedFeature

_CATEGORY = {
    "Edm.Int64": "number",
    "Edm.Int32": "number",
    "Edm.Decimal": "number",
    "Edm.String": "string",
    "Edm.Boolean": "boolean",
    "Edm.DateTimeOffset": "datetime",
}
_COMPARISON = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_ARITHMETIC = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%"}
_DATE_PARTS = {"year": "YEAR", "month": "MONTH", "day": "DAY", "hour": "HOUR", "minute": "MINUTE"}


_NULL_CASTS = {"number": "numeric", "string": "text", "boolean": "boolean", "datetime": "timestamptz"}


@dataclass
class SqlBuilder:
    """Collects bind values; `bind` returns the $n placeholder for a value."""

    params: list[object] = field(default_factory=list)

    def bind(self, value: object, sql_type: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{sql_type}"


@dataclass(frozen=True)
class Typed:
    sql: str
    category: str  # number | string | boolean | datetime | null


def _coerce(typed: Typed, category: str) -> str:
    """A bare NULL has no type in PostgreSQL; give it the one its context expects."""
    return f"NULL::{_NULL_CASTS[category]}" if typed.category == "null" else typed.sql


class FilterCompiler:
    def __init__(self, entity: EntitySet, builder: SqlBuilder, option: str, alias: str = "t") -> None:
        self.entity = entity
        self.builder = builder
        self.option = option
        self.alias = alias

    def error(self, message: str, node: Node) -> ExpressionError:
        return ExpressionError(f"{message} at position {node.position + 1}", target=self.option, position=node.position)

    def boolean(self, node: Node) -> str:
        typed = self.compile(node)
        if typed.category not in ("boolean", "null"):
            raise self.error("The expression must be true or false", node)
        return _coerce(typed, "boolean")

    def column(self, node: Property) -> Typed:
        model_field = self.entity.field(node.name)
        if model_field is None:
            if self.entity.relation(node.name.split("/")[0]) is not None:
                raise NotImplementedFeature(
                    f"The navigation property {node.name!r} cannot be used here", target=self.option
                )
            raise self.error(f"{self.entity.type_name} has no property {node.name!r}", node)
        return Typed(f'{self.alias}."{model_field.name}"', _CATEGORY[model_field.edm_type])

    def compile(self, node: Node) -> Typed:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Property):
            return self.column(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, In):
            return self.in_list(node)
        return self.call(node)

    def literal(self, node: Literal) -> Typed:
        value = node.value
        if value is None:
            return Typed("NULL", "null")
        if isinstance(value, bool):
            return Typed(self.builder.bind(value, "boolean"), "boolean")
        if isinstance(value, int):
            return Typed(self.builder.bind(value, "bigint"), "number")
        if isinstance(value, Decimal):
            return Typed(self.builder.bind(value, "numeric"), "number")
        if isinstance(value, datetime):
            return Typed(self.builder.bind(value, "timestamptz"), "datetime")
        return Typed(self.builder.bind(str(value), "text"), "string")

    def unary(self, node: Unary) -> Typed:
        operand = self.compile(node.operand)
        if node.operator == "not":
            if operand.category not in ("boolean", "null"):
                raise self.error("'not' needs a true/false operand", node)
            return Typed(f"(NOT {_coerce(operand, 'boolean')})", "boolean")
        if operand.category not in ("number", "null"):
            raise self.error("'-' needs a number", node)
        return Typed(f"(-{_coerce(operand, 'number')})", "number")

    def binary(self, node: Binary) -> Typed:
        if node.operator in ("and", "or"):
            left, right = self.boolean(node.left), self.boolean(node.right)
            return Typed(f"({left} {node.operator.upper()} {right})", "boolean")
        left, right = self.compile(node.left), self.compile(node.right)
        if node.operator in _COMPARISON:
            return self.comparison(node, left, right)
        for side in (left, right):
            if side.category not in ("number", "null"):
                raise self.error(f"'{node.operator}' needs numbers", node)
        left = Typed(_coerce(left, "number"), "number")
        right = Typed(_coerce(right, "number"), "number")
        if node.operator == "divby":
            return Typed(f"({left.sql}::numeric / NULLIF({right.sql}, 0))", "number")
        if node.operator in ("div", "mod"):
            # Division by zero is null rather than an SQL error, so a query never fails half-evaluated.
            return Typed(f"({left.sql} {_ARITHMETIC[node.operator]} NULLIF({right.sql}, 0))", "number")
        return Typed(f"({left.sql} {_ARITHMETIC[node.operator]} {right.sql})", "number")

    def comparison(self, node: Binary, left: Typed, right: Typed) -> Typed:
        if left.category == "null" or right.category == "null":
            other = right if left.category == "null" else left
            if node.operator == "eq":
                return Typed(f"({other.sql} IS NULL)", "boolean")
            if node.operator == "ne":
                return Typed(f"({other.sql} IS NOT NULL)", "boolean")
            # Ordering against null is never true; the operand stays in the SQL so its binds stay referenced.
            return Typed(
                f"({_coerce(other, 'string') if other.category == 'null' else other.sql} IS NULL AND NULL)", "boolean"
            )
        if left.category != right.category:
            raise self.error(f"Cannot compare {left.category} with {right.category}", node)
        return Typed(f"({left.sql} {_COMPARISON[node.operator]} {right.sql})", "boolean")

    def in_list(self, node: In) -> Typed:
        operand = self.compile(node.operand)
        items = [self.compile(item) for item in node.items]
        category = operand.category
        for item, source in zip(items, node.items, strict=True):
            if category == "null":
                category = item.category
            elif item.category not in (category, "null"):
                raise self.error(f"'in' list value of type {item.category} for a {category}", source)
        if category == "null":
            return Typed("NULL::boolean", "boolean")
        values = ", ".join(_coerce(item, category) for item in items)
        return Typed(f"({_coerce(operand, category)} IN ({values}))", "boolean")

    def call(self, node: Call) -> Typed:
        handler = _FUNCTIONS.get(node.function)
        if handler is None:
            if node.function in _KNOWN_UNSUPPORTED:
                raise NotImplementedFeature(f"The function {node.function}() is not supported", target=self.option)
            raise self.error(f"Unknown function {node.function!r}", node)
        result, overloads = handler
        if len(node.arguments) not in overloads:
            counts = " or ".join(str(count) for count in sorted(overloads))
            raise self.error(f"{node.function}() takes {counts} argument(s)", node)
        expected, template = overloads[len(node.arguments)]
        arguments = [self.compile(argument) for argument in node.arguments]
        for argument, category, source in zip(arguments, expected, node.arguments, strict=True):
            if argument.category not in (category, "null"):
                raise self.error(f"{node.function}() expects a {category} here", source)
        sql = template.format(*(_coerce(a, c) for a, c in zip(arguments, expected, strict=True)))
        return Typed(sql, result)


_S, _N, _D = "string", "number", "datetime"
# name -> (result category, {argument count: (argument categories, SQL template)})
_FUNCTIONS: dict[str, tuple[str, dict[int, tuple[tuple[str, ...], str]]]] = {
    "contains": ("boolean", {2: ((_S, _S), "(strpos({0}, {1}) > 0)")}),
    "startswith": ("boolean", {2: ((_S, _S), "starts_with({0}, {1})")}),
    "endswith": ("boolean", {2: ((_S, _S), "(right({0}, char_length({1})) = {1})")}),
    "tolower": (_S, {1: ((_S,), "lower({0})")}),
    "toupper": (_S, {1: ((_S,), "upper({0})")}),
    "trim": (_S, {1: ((_S,), "btrim({0})")}),
    "length": (_N, {1: ((_S,), "char_length({0})")}),
    "indexof": (_N, {2: ((_S, _S), "(strpos({0}, {1}) - 1)")}),
    "concat": (_S, {2: ((_S, _S), "({0} || {1})")}),
    "substring": (
        _S,
        {
            2: ((_S, _N), "substr({0}, least(greatest({1}, 0), 2147483646)::int + 1)"),
            3: (
                (_S, _N, _N),
                "substr({0}, least(greatest({1}, 0), 2147483646)::int + 1, least(greatest({2}, 0), 2147483647)::int)",
            ),
        },
    ),
    "round": (_N, {1: ((_N,), "round(({0})::numeric)")}),
    "floor": (_N, {1: ((_N,), "floor(({0})::numeric)")}),
    "ceiling": (_N, {1: ((_N,), "ceiling(({0})::numeric)")}),
    "now": (_D, {0: ((), "now()")}),
    **{
        name: (_N, {1: ((_D,), f"EXTRACT({part} FROM {{0}} AT TIME ZONE 'UTC')::int")})
        for name, part in _DATE_PARTS.items()
    },
    "second": (_N, {1: ((_D,), "floor(EXTRACT(SECOND FROM {0} AT TIME ZONE 'UTC'))::int")}),
}
_KNOWN_UNSUPPORTED = {
    "matchespattern",
    "fractionalseconds",
    "date",
    "time",
    "totaloffsetminutes",
    "totalseconds",
    "maxdatetime",
    "mindatetime",
    "hassubset",
    "hassubsequence",
}
