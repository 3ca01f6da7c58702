from __future__ import annotations

from decimal import Decimal

import pytest

from services.odata.compiler import FilterCompiler, SqlBuilder
from services.odata.expressions import Binary, Call, ExpressionError, In, Literal, Property, Unary, parse_expression
from shared.catalog.model import PRODUCTS


def test_multiplication_binds_tighter_than_addition_and_comparison() -> None:
    node = parse_expression("stock add price mul 2 gt 10", "$filter", {})
    assert isinstance(node, Binary) and node.operator == "gt"
    assert isinstance(node.left, Binary) and node.left.operator == "add"
    assert isinstance(node.left.right, Binary) and node.left.right.operator == "mul"


def test_and_binds_tighter_than_or() -> None:
    node = parse_expression("active or stock eq 1 and stock eq 2", "$filter", {})
    assert isinstance(node, Binary) and node.operator == "or"
    assert isinstance(node.right, Binary) and node.right.operator == "and"


def test_not_applies_to_the_next_operand_only() -> None:
    node = parse_expression("not active and active", "$filter", {})
    assert isinstance(node, Binary) and node.operator == "and"
    assert isinstance(node.left, Unary) and node.left.operator == "not"


def test_literals_keep_their_types() -> None:
    node = parse_expression("sku in ('it''s', 3, 2.50, -4, true, null)", "$filter", {})
    assert isinstance(node, In) and isinstance(node.operand, Property)
    assert [item.value for item in node.items if isinstance(item, Literal)] == [
        "it's",
        3,
        Decimal("2.50"),
        -4,
        True,
        None,
    ]


def test_function_calls_and_aliases_parse() -> None:
    node = parse_expression("contains(tolower(name), @q)", "$filter", {"@q": "'lamp'"})
    assert isinstance(node, Call) and node.function == "contains"
    assert isinstance(node.arguments[1], Literal) and node.arguments[1].value == "lamp"


def test_errors_carry_the_offset_of_the_offending_token() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("stock eq 1 xor 2", "$filter", {})
    assert caught.value.position == 11
    assert "position 12" in caught.value.message and caught.value.target == "$filter"


def test_compiled_sql_binds_every_value_and_quotes_model_identifiers() -> None:
    builder = SqlBuilder()
    node = parse_expression("name eq 'x'' OR 1=1' and stock gt 3", "$filter", {})
    sql = FilterCompiler(PRODUCTS, builder, "$filter").boolean(node)
    assert sql == '((t."name" = $1::text) AND (t."stock" > $2::bigint))'
    assert builder.params == ["x' OR 1=1", 3]
