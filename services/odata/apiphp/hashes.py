"""Webasyst's collection hashes, the `hash` parameter of shop.product.search, shop.order.search and
shop.customer.search, read into a filter the OData compiler takes.

    ""                           every row
    id/1,2,3                     these ids
    category/5                   products of category 5 (products only)
    search/query=lamp shade      every word in a searchable field, case-insensitively
    search/FIELD OP VALUE&...    conditions joined by AND; OP one of = != > >= < <= *= (contains); `\\&` is a
                                 literal ampersand; FIELD one of the entity's names below (Webasyst's where it has one)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from services.odata.apiphp.params import invalid, parse_datetime, parse_decimal, parse_integer, parse_text
from services.odata.apiphp.reads import all_of, equals
from services.odata.expressions import Binary, Call, In, Literal, Node, Property
from shared.catalog.model import EntitySet

MAX_CONDITIONS = 10
MAX_WORDS = 10
MAX_IDS = 100
MAX_ID = 2**63 - 1
_CONDITION = re.compile(r"^([a-z_]{1,32})(!=|>=|<=|\*=|=|>|<)(.*)$", re.DOTALL)
_OPERATORS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "ge", "<": "lt", "<=": "le"}

Parse = Callable[[str, str], object]


def _text(name: str, value: str) -> object:
    return parse_text(name, value, 300)


def _whole(name: str, value: str) -> object:
    return parse_integer(name, value, 0, MAX_ID)


def _flag(name: str, value: str) -> object:
    if value not in ("0", "1"):
        raise invalid(name, "1 or 0 is expected")
    return value == "1"


def _amount(name: str, value: str) -> object:
    return parse_decimal(name, value)


def _moment(name: str, value: str) -> object:
    return parse_datetime(name, value)


@dataclass(frozen=True)
class HashField:
    column: str
    parse: Parse
    text: bool = False  # *= applies


# Webasyst's field names first, this catalog's own names beside them.
FIELDS: dict[str, dict[str, HashField]] = {
    "products": {
        "name": HashField("name", _text, text=True),
        "sku": HashField("sku", _text, text=True),
        "price": HashField("price", _amount),
        "count": HashField("stock", _whole),
        "stock": HashField("stock", _whole),
        "category_id": HashField("category_id", _whole),
        "status": HashField("active", _flag),
        "create_datetime": HashField("created_at", _moment),
        "edit_datetime": HashField("updated_at", _moment),
    },
    "orders": {
        "state_id": HashField("status", _text),
        "status": HashField("status", _text),
        "contact_id": HashField("customer_id", _whole),
        "customer_id": HashField("customer_id", _whole),
        "total": HashField("total", _amount),
        "currency": HashField("currency", _text),
        "create_datetime": HashField("placed_at", _moment),
        "placed_at": HashField("placed_at", _moment),
        "update_datetime": HashField("updated_at", _moment),
    },
    "customers": {
        "email": HashField("email", _text, text=True),
        "firstname": HashField("first_name", _text, text=True),
        "lastname": HashField("last_name", _text, text=True),
        "phone": HashField("phone", _text, text=True),
        "city": HashField("city", _text, text=True),
        "country": HashField("country", _text),
        "create_datetime": HashField("created_at", _moment),
    },
}


def words_filter(entity: EntitySet, words: list[str]) -> Node | None:
    """Every word in some searchable field, case-insensitively (the shop's quick search)."""
    if len(words) > MAX_WORDS:
        raise invalid("query", f"at most {MAX_WORDS} words")
    nodes: list[Node] = []
    for word in words:
        literal = Literal(word.lower(), 0)
        match: Node | None = None
        for field in entity.searchable_fields:
            found = Call("contains", (Call("tolower", (Property(field.name, 0),), 0), literal), 0)
            match = found if match is None else Binary("or", match, found, 0)
        if match is not None:
            nodes.append(match)
    return all_of(nodes)


def _conditions(text: str) -> list[str]:
    parts = re.split(r"(?<!\\)&", text)
    if len(parts) > MAX_CONDITIONS:
        raise invalid("hash", f"at most {MAX_CONDITIONS} conditions")
    return [part.replace("\\&", "&").strip() for part in parts if part.strip()]


def _condition(entity: EntitySet, condition: str) -> Node | None:
    match = _CONDITION.match(condition)
    if match is None:
        raise invalid("hash", "conditions are FIELD OP VALUE with OP one of = != > >= < <= *=")
    name, operator, value = match.group(1), match.group(2), match.group(3).strip()
    if name == "query" and operator == "=":
        return words_filter(entity, value.split())
    field = FIELDS.get(entity.name, {}).get(name)
    if field is None:
        known = ", ".join(sorted(FIELDS.get(entity.name, {})))
        raise invalid("hash", f"unknown field {name}; one of query, {known}")
    if operator == "*=":
        if not field.text:
            raise invalid("hash", f"*= applies to text fields, not {name}")
        return Call("contains", (Call("tolower", (Property(field.column, 0),), 0), Literal(value.lower(), 0)), 0)
    return Binary(_OPERATORS[operator], Property(field.column, 0), Literal(field.parse(name, value), 0), 0)


def hash_filter(entity: EntitySet, text: str) -> Node | None:
    """The filter a collection hash stands for; InvalidParam when it is not one this entity takes."""
    kind, _, rest = text.strip().strip("/").partition("/")
    if not kind:
        return None
    if kind == "id":
        ids = [value.strip() for value in rest.split(",") if value.strip()]
        if not ids or len(ids) > MAX_IDS:
            raise invalid("hash", f"id/ takes 1 to {MAX_IDS} ids")
        items = tuple(Literal(parse_integer("hash", value, 1, MAX_ID), 0) for value in ids)
        return In(Property("id", 0), items, 0)
    if kind == "category" and entity.name == "products":
        return equals("category_id", parse_integer("hash", rest.strip(), 1, MAX_ID))
    if kind == "search":
        return all_of([node for node in (_condition(entity, part) for part in _conditions(rest)) if node is not None])
    raise invalid("hash", "one of id/…, search/…" + (", category/…" if entity.name == "products" else ""))
