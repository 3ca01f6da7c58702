"""Keyset paging for @odata.nextLink: the link carries an opaque $skiptoken holding the last row's sort values,
so page N costs the same as page 1 (an OFFSET of 900,000 rows reads and discards them all).

Only possible when every sort field is non-nullable (NULLs have no place in a row comparison); otherwise the
nextLink falls back to $skip. The token is client-supplied data: it is decoded strictly, each value checked
against its field's type, and bound as a parameter like any other value.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from shared.catalog.model import EntitySet, Field
from shared.errors import BadRequest

MAX_TOKEN_LENGTH = 4000
SortKey = tuple[tuple[Field, bool], ...]  # (field, descending)


class SkipTokenError(BadRequest):
    code = "invalid_skiptoken"

    def __init__(self) -> None:
        super().__init__("The $skiptoken is not one this service issued for this query", target="$skiptoken")


def sort_key(entity: EntitySet, orderby: SortKey) -> SortKey:
    key_field = entity.field(entity.key)
    assert key_field is not None
    if any(model_field.name == entity.key for model_field, _ in orderby):
        return orderby
    # The tie-breaker follows the last sort direction so that (price DESC, id DESC) is one backward index scan.
    descending = orderby[-1][1] if orderby else False
    return (*orderby, (key_field, descending))


def keyset_possible(sort: SortKey) -> bool:
    return all(not model_field.nullable for model_field, _ in sort)


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
    edm = model_field.edm_type
    if edm in ("Edm.Int64", "Edm.Int32") and isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
    elif edm == "Edm.String" and isinstance(value, str) and len(value) <= (model_field.max_length or 20_000):
        return value
    elif edm == "Edm.Boolean" and isinstance(value, bool):
        return value
    elif edm == "Edm.Decimal" and isinstance(value, str) and len(value) <= 40:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise SkipTokenError() from None
        if number.is_finite():
            return number
    elif edm == "Edm.DateTimeOffset" and isinstance(value, str) and len(value) <= 40:
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
    if not isinstance(values, list) or len(values) != len(sort) or not keyset_possible(sort):
        raise SkipTokenError()
    return tuple(_decode_value(model_field, value) for (model_field, _), value in zip(sort, values, strict=True))


def after_condition(sort: SortKey, placeholders: Sequence[str], alias: str = "t") -> str:
    """Rows strictly after the token's row in the sort order."""
    columns = [f'{alias}."{model_field.name}"' for model_field, _ in sort]
    directions = {descending for _, descending in sort}
    if len(directions) == 1:
        operator = "<" if directions.pop() else ">"
        return f"(({', '.join(columns)}) {operator} ({', '.join(placeholders)}))"
    alternatives = []
    for index, (_, descending) in enumerate(sort):
        equal = [f"{columns[i]} = {placeholders[i]}" for i in range(index)]
        step = f"{columns[index]} {'<' if descending else '>'} {placeholders[index]}"
        alternatives.append("(" + " AND ".join([*equal, step]) + ")")
    # The bound on the first column alone lets an index on it skip straight to the position.
    first_bound = f"{columns[0]} {'<=' if sort[0][1] else '>='} {placeholders[0]}"
    return f"({first_bound} AND (" + " OR ".join(alternatives) + "))"
