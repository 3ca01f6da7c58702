"""Compile an expression AST to a PostgreSQL fragment: values become $n binds with explicit casts, identifiers
come only from the entity model, and every operand is type-checked so a bad query is a 400, never an SQL error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.odata.expressions import Binary, Call, ExpressionError, In, Lambda, Literal, Node, Property, Unary
from shared.catalog.model import ENTITY_SETS, EntitySet, Relation
from shared.errors import NotImplementedFeature

MAX_LAMBDA_NESTING = 4

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
    aliases: int = 0

    def bind(self, value: object, sql_type: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{sql_type}"

    def alias(self) -> str:
        """A table alias unique in the statement, for a navigation join or a lambda's subquery."""
        self.aliases += 1
        return f"n{self.aliases}"


@dataclass
class Scope:
    """The rows an expression is evaluated on: an entity under an alias, with the LEFT JOINs its single-valued
    navigation paths need (one per distinct path: `category/name` and `category/slug` share one join)."""

    entity: EntitySet
    alias: str
    joins: dict[tuple[str, ...], tuple[str, EntitySet]] = field(default_factory=dict)
    join_sql: list[str] = field(default_factory=list)

    def navigate(self, builder: SqlBuilder, path: tuple[str, ...], relation: Relation, parent: str) -> str:
        known = self.joins.get(path)
        if known is not None:
            return known[0]
        target = ENTITY_SETS[relation.target]
        alias = builder.alias()
        self.joins[path] = (alias, target)
        # The remote field of a single-valued navigation is the target's key, so the join never adds rows.
        self.join_sql.append(
            f' LEFT JOIN {target.qualified_table} AS {alias} ON {alias}."{relation.remote_field}"'
            f' = {parent}."{relation.local_field}"'
        )
        return alias

    def from_sql(self) -> str:
        return f"{self.entity.qualified_table} AS {self.alias}{''.join(self.join_sql)}"


@dataclass(frozen=True)
class Typed:
    """A compiled operand. `sql` is its exact OData value (NULL where OData says null); a boolean also carries
    `truth` and `falsity`, conditions that hold exactly when it is true or false, so that `not` is compiled by
    swapping them instead of wrapping SQL's NOT around a comparison that SQL would have made NULL."""

    sql: str
    category: str  # number | string | boolean | datetime | null
    nullable: bool = False  # whether the value can be null for some row
    truth: str | None = None
    falsity: str | None = None

    def when_true(self) -> str:
        if self.category == "null":
            return "NULL::boolean"
        return self.truth or self.sql

    def when_false(self) -> str:
        if self.category == "null":
            return "NULL::boolean"
        return self.falsity or f"(NOT {self.sql})"


def _predicate(truth: str, falsity: str, value: str | None = None, nullable: bool = False) -> Typed:
    return Typed(value or truth, "boolean", nullable, truth, falsity)


def _coerce(typed: Typed, category: str) -> str:
    """A bare NULL has no type in PostgreSQL; give it the one its context expects."""
    return f"NULL::{_NULL_CASTS[category]}" if typed.category == "null" else typed.sql


def _is_null(typed: Typed) -> str:
    return f"({typed.sql} IS NULL)"


# Comparison operators with their negation: OData comparisons are two-valued (never null), so "not (a gt b)" is
# "a le b" or either side null, and the negation is written out rather than left to SQL's NOT.
_NEGATED = {"eq": "ne", "ne": "eq", "gt": "le", "ge": "lt", "lt": "ge", "le": "gt"}


def compare(operator: str, left: Typed, right: Typed) -> Typed:
    """OData 4.01 comparison of two typed operands (part 2, 5.1.1.1): null equals null and nothing else, gt/lt
    with a null operand are false, ge/le are true for two nulls only. A plain `a = $1` is kept wherever a side
    cannot be null, so indexes on the column still serve the condition."""
    if left.category == "null" and right.category == "null":
        holds = operator in ("eq", "ge", "le")
        return _predicate("TRUE" if holds else "FALSE", "FALSE" if holds else "TRUE")
    if left.category == "null" or right.category == "null":
        other = right if left.category == "null" else left
        is_null, not_null = _is_null(other), f"({other.sql} IS NOT NULL)"
        if operator in ("eq", "ge", "le"):
            return _predicate(is_null, not_null)
        if operator == "ne":
            return _predicate(not_null, is_null)
        # Never true; the operand stays in the SQL so its binds stay referenced.
        return _predicate(f"({other.sql} IS NULL AND FALSE)", f"({other.sql} IS NULL OR TRUE)")
    a, b = left.sql, right.sql
    nullable = [side for side in (left, right) if side.nullable]
    if operator in ("eq", "ne"):
        if not nullable:
            equal, different, value = f"({a} = {b})", f"({a} <> {b})", None
        elif len(nullable) == 1:
            equal, different = f"({a} = {b})", f"({a} IS DISTINCT FROM {b})"
            value = f"({a} IS NOT DISTINCT FROM {b})"
        else:
            equal, different, value = f"({a} IS NOT DISTINCT FROM {b})", f"({a} IS DISTINCT FROM {b})", None
        if operator == "eq":
            return _predicate(equal, different, value)
        return _predicate(different, equal, different if value else None)
    sql_operator, negated = _COMPARISON[operator], _COMPARISON[_NEGATED[operator]]
    truth, falsity = f"({a} {sql_operator} {b})", f"({a} {negated} {b})"
    if nullable and operator in ("gt", "lt"):
        falsity = "(" + " OR ".join([falsity, *(_is_null(side) for side in nullable)]) + ")"
    elif len(nullable) == 1:
        falsity = f"({falsity} OR {_is_null(nullable[0])})"
    elif nullable:
        truth = f"({truth} OR ({a} IS NULL AND {b} IS NULL))"
        falsity = f"({falsity} OR ({a} IS NULL) <> ({b} IS NULL))"
    return _predicate(truth, falsity, f"COALESCE({truth}, FALSE)" if nullable else None)


class FilterCompiler:
    def __init__(self, entity: EntitySet, builder: SqlBuilder, option: str, alias: str = "t") -> None:
        self.entity = entity
        self.builder = builder
        self.option = option
        self.alias = alias
        self.scope = Scope(entity, alias)
        self.variables: dict[str, Scope] = {}  # lambda variables in reach
        self.resources: set[str] = {entity.resource}  # what the expression reads: each needs "<resource>:read"

    @property
    def joins(self) -> str:
        """The LEFT JOINs the compiled expressions need, to follow the FROM of the entity under `alias`."""
        return "".join(self.scope.join_sql)

    def error(self, message: str, node: Node) -> ExpressionError:
        return ExpressionError(f"{message} at position {node.position + 1}", target=self.option, position=node.position)

    def boolean(self, node: Node) -> str:
        """A WHERE condition: true exactly for the rows where the expression is true."""
        return self.predicate(node).when_true()

    def predicate(self, node: Node) -> Typed:
        typed = self.compile(node)
        if typed.category not in ("boolean", "null"):
            raise self.error("The expression must be true or false", node)
        return typed

    def walk(self, node: Node, segments: list[str]) -> tuple[Scope, EntitySet, str, bool, list[str]]:
        """Follow the single-valued navigation segments of a path from its scope (a lambda variable or the
        entity itself): the scope, the entity and alias reached, whether a null may arise on the way, and the
        segments left (the property, or a collection navigation and its lambda)."""
        scope = self.scope
        if segments[0] in self.variables:
            scope = self.variables[segments[0]]
            if len(segments) == 1:
                raise self.error(f"The lambda variable {segments[0]!r} is an entity; name one of its properties", node)
            segments = segments[1:]
        entity, alias, nullable = scope.entity, scope.alias, False
        walked: list[str] = []
        while len(segments) > 1:
            relation = entity.relation(segments[0])
            if relation is None:
                raise self.error(f"{entity.type_name} has no navigation property {segments[0]!r}", node)
            if relation.many:
                break
            walked.append(segments[0])
            local = entity.field(relation.local_field)
            nullable = nullable or local is None or local.nullable
            alias = scope.navigate(self.builder, tuple(walked), relation, alias)
            entity = ENTITY_SETS[relation.target]
            self.resources.add(entity.resource)
            segments = segments[1:]
        return scope, entity, alias, nullable, segments

    def column(self, node: Property) -> Typed:
        _, entity, alias, nullable, rest = self.walk(node, node.name.split("/"))
        name = rest[0]
        model_field = entity.field(name) if len(rest) == 1 else None
        if model_field is None:
            relation = entity.relation(name)
            if relation is not None and relation.many:
                raise self.error(
                    f"{name!r} is a collection; test its members with {name}/any(x: ...) or {name}/all(x: ...)", node
                )
            if relation is not None:
                # A single-valued navigation compares with null only (`category eq null`): it is null exactly when
                # its foreign key is.
                return Typed(f'{alias}."{relation.local_field}"', "entity", True)
            raise self.error(f"{entity.type_name} has no property {name!r}", node)
        return Typed(f'{alias}."{model_field.name}"', _CATEGORY[model_field.edm_type], nullable or model_field.nullable)

    def lambda_(self, node: Lambda) -> Typed:
        """any/all as EXISTS over the collection's rows, correlated on the relation's (indexed) remote field.
        any: some member makes the predicate true; all: no member makes it anything but true (part 2,
        5.1.1.10); both are true or false, never null, so `not` of them is NOT EXISTS / EXISTS."""
        _, entity, parent, _, rest = self.walk(node, node.path.split("/"))
        relation = entity.relation(rest[0]) if len(rest) == 1 else None
        if relation is None or not relation.many:
            raise self.error(f"{node.path!r} is not a collection navigation property", node)
        if len(self.variables) >= MAX_LAMBDA_NESTING:
            raise self.error(f"Lambdas nest at most {MAX_LAMBDA_NESTING} deep", node)
        target = ENTITY_SETS[relation.target]
        self.resources.add(target.resource)
        inner = Scope(target, self.builder.alias())
        conditions = [f'{inner.alias}."{relation.remote_field}" = {parent}."{relation.local_field}"']
        if node.variable is not None and node.predicate is not None:
            if node.variable in self.variables or entity.field(node.variable) or self.entity.field(node.variable):
                raise self.error(f"The lambda variable {node.variable!r} is already in use", node)
            self.variables[node.variable] = inner
            try:
                predicate = self.predicate(node.predicate)
            finally:
                del self.variables[node.variable]
            holds = predicate.when_true()
            conditions.append(holds if node.operator == "any" else f"({holds}) IS NOT TRUE")
        exists = f"EXISTS (SELECT 1 FROM {inner.from_sql()} WHERE {' AND '.join(conditions)})"
        if node.operator == "any":
            return _predicate(exists, f"(NOT {exists})")
        return _predicate(f"(NOT {exists})", exists)

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
        if isinstance(node, Lambda):
            return self.lambda_(node)
        return self.call(node)

    def literal(self, node: Literal) -> Typed:
        value = node.value
        if value is None:
            return Typed("NULL", "null", True)
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
            if operand.category == "null":
                return Typed("NULL::boolean", "boolean", True)
            # not null is null (SQL's NOT agrees); not of a comparison swaps its true and false conditions.
            return Typed(f"(NOT {operand.sql})", "boolean", operand.nullable, operand.when_false(), operand.when_true())
        if operand.category not in ("number", "null"):
            raise self.error("'-' needs a number", node)
        return Typed(f"(-{_coerce(operand, 'number')})", "number", operand.nullable)

    def binary(self, node: Binary) -> Typed:
        if node.operator in ("and", "or"):
            left, right = self.predicate(node.left), self.predicate(node.right)
            # SQL's three-valued AND/OR/NOT on boolean values are OData's (part 2, 5.1.1.2); only comparisons
            # differ, and those are never null here.
            word, dual = ("AND", "OR") if node.operator == "and" else ("OR", "AND")
            value = f"({_coerce(left, 'boolean')} {word} {_coerce(right, 'boolean')})"
            return Typed(
                value,
                "boolean",
                left.nullable or right.nullable,
                f"({left.when_true()} {word} {right.when_true()})",
                f"({left.when_false()} {dual} {right.when_false()})",
            )
        left, right = self.compile(node.left), self.compile(node.right)
        if node.operator in _COMPARISON:
            return self.comparison(node, left, right)
        for side in (left, right):
            if side.category not in ("number", "null"):
                raise self.error(f"'{node.operator}' needs numbers", node)
        nullable = left.nullable or right.nullable
        left = Typed(_coerce(left, "number"), "number")
        right = Typed(_coerce(right, "number"), "number")
        if node.operator == "divby":
            return Typed(f"({left.sql}::numeric / NULLIF({right.sql}, 0))", "number", True)
        if node.operator in ("div", "mod"):
            # Division by zero is null rather than an SQL error, so a query never fails half-evaluated.
            return Typed(f"({left.sql} {_ARITHMETIC[node.operator]} NULLIF({right.sql}, 0))", "number", True)
        return Typed(f"({left.sql} {_ARITHMETIC[node.operator]} {right.sql})", "number", nullable)

    def comparison(self, node: Binary, left: Typed, right: Typed) -> Typed:
        if "entity" in (left.category, right.category):
            if left.category == right.category:
                raise NotImplementedFeature(
                    "Comparing entities is not supported; compare one with null or compare their keys",
                    target=self.option,
                )
            if "null" not in (left.category, right.category):
                raise self.error(
                    "An entity compares with null only; name one of its properties, e.g. category/id", node
                )
            if node.operator not in ("eq", "ne"):
                raise self.error(f"An entity compares with null by eq or ne only, not {node.operator}", node)
        if "null" not in (left.category, right.category) and left.category != right.category:
            raise self.error(f"Cannot compare {left.category} with {right.category}", node)
        return compare(node.operator, left, right)

    def in_list(self, node: In) -> Typed:
        """`a in (x, y)` is `a eq x or a eq y` (part 2, 5.1.1.1.10): a null operand is in a list holding null."""
        operand = self.compile(node.operand)
        items = [self.compile(item) for item in node.items]
        category = operand.category
        for item, source in zip(items, node.items, strict=True):
            if category == "null":
                category = item.category
            elif item.category not in (category, "null"):
                raise self.error(f"'in' list value of type {item.category} for a {category}", source)
        literal_list = all(isinstance(item, Literal) for item in node.items)
        if category == "null" or operand.category == "null" or not literal_list:
            return self.any_equal(operand, items)
        values = [item.sql for item in items if item.category != "null"]
        has_null = len(values) < len(items)
        operand_sql = operand.sql
        if not values:
            return _predicate(f"({operand_sql} IS NULL)", f"({operand_sql} IS NOT NULL)")
        member = f"({operand_sql} IN ({', '.join(values)}))"
        not_member = f"({operand_sql} NOT IN ({', '.join(values)}))"
        if has_null:
            truth = f"({member} OR {operand_sql} IS NULL)"
            return _predicate(truth, not_member, truth if not operand.nullable else f"COALESCE({truth}, FALSE)")
        if operand.nullable:
            return _predicate(member, f"({not_member} OR {operand_sql} IS NULL)", f"COALESCE({member}, FALSE)")
        return _predicate(member, not_member)

    def any_equal(self, operand: Typed, items: list[Typed]) -> Typed:
        equalities = [compare("eq", operand, item) for item in items]
        return _predicate(
            "(" + " OR ".join(e.when_true() for e in equalities) + ")",
            "(" + " AND ".join(e.when_false() for e in equalities) + ")",
            "(" + " OR ".join(e.sql for e in equalities) + ")",
        )

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
        if node.function == "substring":
            for source in node.arguments[1:]:
                if isinstance(source, Literal) and isinstance(source.value, int | Decimal) and source.value < 0:
                    raise self.error("substring() takes a start and a length of 0 or more", source)
        sql = template.format(*(_coerce(a, c) for a, c in zip(arguments, expected, strict=True)))
        # Every function here is null when an argument is null (as in OData), and only then.
        return Typed(sql, result, any(argument.nullable for argument in arguments))


_S, _N, _D = "string", "number", "datetime"
# The characters with Unicode's White_Space property: trim removes tabs, no-break and ideographic spaces too.
UNICODE_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
UNICODE_WHITESPACE_SQL = "U&'" + "".join(f"\\{ord(char):04X}" for char in UNICODE_WHITESPACE) + "'"
# name -> (result category, {argument count: (argument categories, SQL template)})
# A start past the end is the empty string, so clamping a huge start (or length) to int changes no answer.
_START = "least({1}, 2147483646)::int + 1"
_LENGTH = "least({2}, 2147483647)::int"
_FUNCTIONS: dict[str, tuple[str, dict[int, tuple[tuple[str, ...], str]]]] = {
    "contains": ("boolean", {2: ((_S, _S), "(strpos({0}, {1}) > 0)")}),
    "startswith": ("boolean", {2: ((_S, _S), "starts_with({0}, {1})")}),
    "endswith": ("boolean", {2: ((_S, _S), "(right({0}, char_length({1})) = {1})")}),
    "tolower": (_S, {1: ((_S,), "lower({0})")}),
    "toupper": (_S, {1: ((_S,), "upper({0})")}),
    "trim": (_S, {1: ((_S,), f"btrim({{0}}, {UNICODE_WHITESPACE_SQL})")}),
    "length": (_N, {1: ((_S,), "char_length({0})")}),
    "indexof": (_N, {2: ((_S, _S), "(strpos({0}, {1}) - 1)")}),
    "concat": (_S, {2: ((_S, _S), "({0} || {1})")}),
    "substring": (
        _S,
        {
            # A start or length known to be negative is refused before any SQL runs (see FilterCompiler.call);
            # one computed per row makes substr() take a negative length, which PostgreSQL refuses (22011, a 400
            # query_not_evaluable), instead of being clamped to something the client did not ask for.
            2: ((_S, _N), f"substr({{0}}, {_START}, CASE WHEN {{1}} < 0 THEN -1 ELSE 2147483647 END)"),
            3: ((_S, _N, _N), f"substr({{0}}, {_START}, CASE WHEN {{1}} < 0 THEN -1 ELSE {_LENGTH} END)"),
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
