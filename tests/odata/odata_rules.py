"""An independent model of OData 4.01 $filter evaluation (part 2, 5.1.1), for differential tests: hypothesis
builds typed expression trees, `render` writes them as $filter text and `evaluate` computes their value for one
row in plain Python, following the specification's rules rather than the service's SQL:

- eq/ne: null equals null and nothing else; gt/lt with a null operand are false; ge/le are true for two nulls only.
- and/or/not: null is "unknown" (false and null = false, true or null = true, not null = null).
- arithmetic and functions: null when an operand is null; integer div truncates toward zero, mod takes the sign of
  the dividend; trim removes characters with Unicode's White_Space property.
- in: true when the left operand equals (as eq does) one of the listed values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

# Unicode's White_Space property, written out here (str.isspace also counts U+001C..U+001F, which it lacks).
WHITE_SPACE = (
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@dataclass(frozen=True)
class Expr:
    kind: str  # field | literal | category | op | not | neg | call | in
    type: str  # int | decimal | string | boolean | datetime | null
    value: Any = None  # field name, literal value, category index, operator or function name
    args: tuple[Expr, ...] = ()


NULL = Expr("literal", "null", None)


def field(name: str, type_: str) -> Expr:
    return Expr("field", type_, name)


def literal(value: object) -> Expr:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return Expr("literal", "boolean", value)
    if isinstance(value, int):
        return Expr("literal", "int", value)
    if isinstance(value, Decimal):
        return Expr("literal", "decimal", value)
    if isinstance(value, datetime):
        return Expr("literal", "datetime", value)
    return Expr("literal", "string", value)


def op(operator: str, left: Expr, right: Expr, type_: str) -> Expr:
    return Expr("op", type_, operator, (left, right))


def call(function: str, type_: str, *arguments: Expr) -> Expr:
    return Expr("call", type_, function, arguments)


# ---- rendering ---------------------------------------------------------------------------------------------


def render(expr: Expr, categories: Mapping[int, int]) -> str:
    if expr.kind == "field":
        return str(expr.value)
    if expr.kind == "category":
        return str(categories[expr.value])
    if expr.kind == "literal":
        value = expr.value
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return str(value)
    parts = [render(arg, categories) for arg in expr.args]
    if expr.kind == "op":
        return f"({parts[0]} {expr.value} {parts[1]})"
    if expr.kind == "not":
        return f"(not {parts[0]})"
    if expr.kind == "neg":
        return f"(-{parts[0]})"
    if expr.kind == "in":
        return f"({parts[0]} in ({', '.join(parts[1:])}))"
    return f"{expr.value}({', '.join(parts)})"


# ---- evaluation --------------------------------------------------------------------------------------------


def _compare(operator: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        both = left is None and right is None
        return {"eq": both, "ne": not both, "ge": both, "le": both, "gt": False, "lt": False}[operator]
    return {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }[operator]


def _truncating_div(left: int, right: int) -> int:
    quotient = abs(left) // abs(right)
    return quotient if (left >= 0) == (right > 0) else -quotient


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if operator == "add":
        return left + right
    if operator == "sub":
        return left - right
    if operator == "mul":
        return left * right
    if operator == "div":
        return _truncating_div(left, right)
    return left - right * _truncating_div(left, right)  # mod


def _substring(text: str, start: int, length: int | None = None) -> str:
    return text[start:] if length is None else text[start : start + length]


# The canonical functions the generator calls, by name, each taking its arguments in the order OData writes them.
FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "contains": lambda text, part: part in text,
    "startswith": lambda text, prefix: text.startswith(prefix),
    "endswith": lambda text, suffix: text.endswith(suffix),
    "tolower": lambda text: text.lower(),
    "toupper": lambda text: text.upper(),
    "trim": lambda text: text.strip(WHITE_SPACE),
    "length": len,
    "indexof": lambda text, part: text.find(part),
    "concat": lambda left, right: left + right,
    "substring": _substring,
    "round": lambda number: Decimal(number).quantize(Decimal(1), rounding=ROUND_HALF_UP),
    "floor": math.floor,
    "ceiling": math.ceil,
    "year": lambda moment: moment.astimezone(UTC).year,
}


def _function(name: str, arguments: list[Any]) -> Any:
    if any(argument is None for argument in arguments):
        return None
    return FUNCTIONS[name](*arguments)


def evaluate(expr: Expr, row: Mapping[str, Any], categories: Mapping[int, int]) -> Any:
    if expr.kind == "field":
        return row[expr.value]
    if expr.kind == "literal":
        return expr.value
    if expr.kind == "category":
        return categories[expr.value]
    if expr.kind == "not":
        value = evaluate(expr.args[0], row, categories)
        return None if value is None else not value
    if expr.kind == "neg":
        value = evaluate(expr.args[0], row, categories)
        return None if value is None else -value
    if expr.kind == "in":
        operand = evaluate(expr.args[0], row, categories)
        return any(_compare("eq", operand, evaluate(item, row, categories)) for item in expr.args[1:])
    if expr.kind == "call":
        return _function(expr.value, [evaluate(argument, row, categories) for argument in expr.args])
    operator = expr.value
    left = evaluate(expr.args[0], row, categories)
    if operator in ("and", "or"):
        right = evaluate(expr.args[1], row, categories)
        decisive = operator == "or"  # true decides "or", false decides "and"
        if decisive in (left, right):
            return decisive
        return None if None in (left, right) else not decisive
    right = evaluate(expr.args[1], row, categories)
    if operator in ("eq", "ne", "gt", "ge", "lt", "le"):
        return _compare(operator, left, right)
    return _arithmetic(operator, left, right)


# ---- generation ----------------------------------------------------------------------------------------------

STRINGS = ["", "a", "Lamp", "lamp", " ", "\t", "\u00a0", "It's", "x y", "LAMP\u3000"]
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")


def _int_leaves() -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.sampled_from([field("stock", "int"), field("category_id", "int")]),
        st.integers(-3, 12).map(literal),
        st.integers(0, 1).map(lambda index: Expr("category", "int", index)),
        st.just(NULL),
    )


def _string_leaves() -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.sampled_from([field("name", "string"), field("description", "string")]),
        st.sampled_from(STRINGS).map(literal),
        st.just(NULL),
    )


def strings() -> st.SearchStrategy[Expr]:
    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(lambda s, f: call(f, "string", s), inner, st.sampled_from(["tolower", "toupper", "trim"])),
            st.builds(lambda a, b: call("concat", "string", a, b), inner, inner),
            st.builds(lambda s, start: call("substring", "string", s, literal(start)), inner, st.integers(0, 6)),
            st.builds(
                lambda s, start, length: call("substring", "string", s, literal(start), literal(length)),
                inner,
                st.integers(0, 6),
                st.integers(0, 6),
            ),
        )

    return st.recursive(_string_leaves(), extend, max_leaves=4)


def integers() -> st.SearchStrategy[Expr]:
    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(lambda a, b, o: op(o, a, b, "int"), inner, inner, st.sampled_from(["add", "sub", "mul"])),
            st.builds(
                lambda a, b, o: op(o, a, literal(b), "int"),
                inner,
                st.sampled_from([-3, -2, 2, 3, 5]),
                st.sampled_from(["div", "mod"]),
            ),
            inner.map(lambda a: Expr("neg", "int", None, (a,))),
            strings().map(lambda s: call("length", "int", s)),
            st.builds(lambda a, b: call("indexof", "int", a, b), strings(), strings()),
            st.just(call("year", "int", field("created_at", "datetime"))),
        )

    return st.recursive(_int_leaves(), extend, max_leaves=4)


def decimals() -> st.SearchStrategy[Expr]:
    leaves = st.one_of(
        st.just(field("price", "decimal")),
        st.sampled_from([Decimal("2.5"), Decimal("10.50"), Decimal("0.25")]).map(literal),
        integers(),
    )

    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(lambda a, b, o: op(o, a, b, "decimal"), inner, inner, st.sampled_from(["add", "sub", "mul"])),
            st.builds(lambda a, f: call(f, "decimal", a), inner, st.sampled_from(["round", "floor", "ceiling"])),
        )

    return st.recursive(leaves, extend, max_leaves=3)


def _moments() -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.just(field("created_at", "datetime")),
        st.sampled_from([datetime(2020, 6, 1, tzinfo=UTC), datetime(2021, 3, 15, 12, 0, tzinfo=UTC)]).map(literal),
        st.just(NULL),
    )


def _comparison(operands: st.SearchStrategy[Expr], operators: tuple[str, ...] = COMPARISONS) -> st.SearchStrategy[Expr]:
    return st.builds(lambda a, b, o: op(o, a, b, "boolean"), operands, operands, st.sampled_from(operators))


def _conditions() -> st.SearchStrategy[Expr]:
    in_items = st.lists(st.one_of(_int_leaves(), st.just(NULL)), min_size=1, max_size=3)
    return st.one_of(
        _comparison(decimals()),
        _comparison(integers()),
        _comparison(strings()),
        _comparison(_moments()),
        st.builds(
            lambda a, b, f: call(f, "boolean", a, b),
            strings(),
            strings(),
            st.sampled_from(["contains", "startswith", "endswith"]),
        ),
        st.builds(lambda a, items: Expr("in", "boolean", None, (a, *items)), integers(), in_items),
        st.sampled_from([field("active", "boolean"), literal(True), literal(False), NULL]),
    )


def filters() -> st.SearchStrategy[Expr]:
    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            inner.map(lambda a: Expr("not", "boolean", None, (a,))),
            st.builds(lambda a, b, o: op(o, a, b, "boolean"), inner, inner, st.sampled_from(["and", "or"])),
            _comparison(inner, ("eq", "ne")),
        )

    return st.recursive(_conditions(), extend, max_leaves=6)
