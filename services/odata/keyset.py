"""Keyset paging for @odata.nextLink: the link carries an opaque $skiptoken holding the last row's sort values,
so page N costs the same as page 1 (an OFFSET of 900,000 rows reads and discards them all).

Nulls sort first ascending and last descending (OData 4.01 part 2, 5.1.4 $orderby), so a nullable sort field
gets NULLS FIRST/LAST and the "after this row" condition spells out where null stands instead of relying on a row
comparison, which is NULL for a null value.
The token is client-supplied data: it is decoded strictly, each value checked against its field's type (null
only for a nullable field), and bound as a parameter like any other value.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TypeGuard

from services.odata.expressions import Node
from shared.catalog.model import EntitySet, Field
from shared.errors import BadRequest

MAX_TOKEN_LENGTH = 4000


@dataclass(frozen=True)
class OrderItem:
    """One $orderby item. `field` is the model field ordered by, or, for a navigation path or an expression
    (`expression` set), a stand-in typed like its value, whose name labels the value in the SELECT list."""

    field: Field
    descending: bool
    expression: Node | None = None


SortKey = tuple[OrderItem, ...]


class SkipTokenError(BadRequest):
    code = "invalid_skiptoken"

    def __init__(self) -> None:
        super().__init__("The $skiptoken is not one this service issued for this query", target="$skiptoken")


def sort_key(entity: EntitySet, orderby: SortKey) -> SortKey:
    key_field = entity.field(entity.key)
    assert key_field is not None
    if any(item.field == key_field and item.expression is None for item in orderby):
        return orderby
    # The tie-breaker follows the last sort direction so that (price DESC, id DESC) is one backward index scan.
    descending = orderby[-1].descending if orderby else False
    return (*orderby, OrderItem(key_field, descending))


def order_by(sort: SortKey, columns: Sequence[str]) -> str:
    """The ORDER BY list over the items' SQL `columns`; NULLS FIRST/LAST only where a value can be null, so the
    plain indexes keep serving the rest (PostgreSQL's default puts nulls last ascending, the opposite of OData)."""
    items = []
    for item, column in zip(sort, columns, strict=True):
        sql = f"{column} {'DESC' if item.descending else 'ASC'}"
        if item.field.nullable:
            sql += " NULLS LAST" if item.descending else " NULLS FIRST"
        items.append(sql)
    return ", ".join(items)


def _encode_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def encode_token(values: Sequence[object]) -> str:
    raw = json.dumps([_encode_value(value) for value in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_value(model_field: Field, value: object) -> object:
    """A token value back to the field's type; anything a client could have altered is refused."""
    edm = model_field.edm_type
    if value is None and model_field.nullable:
        return None
    if edm in ("Edm.Int64", "Edm.Int32") and _is_integer(value) and -(2**63) <= value < 2**63:
        return value
    if edm == "Edm.String" and isinstance(value, str) and len(value) <= (model_field.max_length or 20_000):
        return value
    if edm == "Edm.Boolean" and isinstance(value, bool):
        return value
    if edm == "Edm.Decimal":
        return _decode_decimal(value)
    if edm == "Edm.DateTimeOffset":
        return _decode_moment(value)
    raise SkipTokenError()


def _is_integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _decode_decimal(value: object) -> Decimal:
    if _is_integer(value) and abs(value) < 10**40:
        return Decimal(value)
    if isinstance(value, str) and len(value) <= 40:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise SkipTokenError() from None
        if number.is_finite():
            return number
    raise SkipTokenError()


def _decode_moment(value: object) -> datetime:
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise SkipTokenError() from None
        if moment.tzinfo is not None:
            return moment
    raise SkipTokenError()


def decode_token(token: str, sort: SortKey) -> tuple[object, ...]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise SkipTokenError()
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SkipTokenError() from None
    if not isinstance(values, list) or len(values) != len(sort):
        raise SkipTokenError()
    return tuple(_decode_value(item.field, value) for item, value in zip(sort, values, strict=True))


def after_condition(
    sort: SortKey, columns: Sequence[str], values: Sequence[object], placeholders: Sequence[str | None]
) -> str:
    """Rows strictly after the token's row in the sort order; `placeholders` holds None where the value is null
    (a null is never bound: it is written as IS NULL)."""
    directions = {item.descending for item in sort}
    nulls = any(item.field.nullable for item in sort)
    if len(directions) == 1 and not nulls:
        operator = "<" if directions.pop() else ">"
        return f"(({', '.join(columns)}) {operator} ({', '.join(str(p) for p in placeholders)}))"
    alternatives = []
    equal: list[str] = []
    for item, column, value, placeholder in zip(sort, columns, values, placeholders, strict=True):
        descending = item.descending
        if value is None:
            # Ascending, nulls come first: every non-null value follows. Descending, nulls come last: nothing does.
            step = None if descending else f"{column} IS NOT NULL"
            same = f"{column} IS NULL"
        else:
            step = f"{column} {'<' if descending else '>'} {placeholder}"
            if descending and item.field.nullable:
                step = f"({step} OR {column} IS NULL)"
            same = f"{column} = {placeholder}"
        if step is not None:
            alternatives.append("(" + " AND ".join([*equal, step]) + ")")
        equal.append(same)
    if not alternatives:
        return "FALSE"
    condition = "(" + " OR ".join(alternatives) + ")"
    if sort[0].field.nullable or values[0] is None:
        return condition
    # The bound on the first column alone lets an index on it skip straight to the position.
    first_bound = f"{columns[0]} {'<=' if sort[0].descending else '>='} {placeholders[0]}"
    return f"({first_bound} AND {condition})"
