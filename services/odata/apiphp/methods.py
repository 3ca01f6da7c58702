"""The api.php methods of the shop app: one function per method, registered with the resource it reads.

Shapes follow Webasyst's shop methods: getInfo answers the entity itself; getList and search answer
{"offset", "limit", "count", "<plural>": [...]}; category.getTree answers {"categories": [...]} nested through each
category's "categories".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.odata.apiphp.errors import InvalidParam, InvalidRequest
from services.odata.apiphp.params import MethodParams
from services.odata.apiphp.reads import all_of, equals, read_one, read_related, read_roots, read_slice
from shared.catalog.model import CATEGORIES, CUSTOMERS, ORDER_ITEMS, ORDERS, PRODUCTS, EntitySet

MAX_ID = 2**63 - 1
MAX_OFFSET = 10_000_000
DEFAULT_LIMIT = 100
MAX_SEARCH_LENGTH = 500
MAX_SEARCH_WORDS = 10
MAX_TREE_LEVELS = 10
MAX_TREE_NODES = 5000
ORDER_STATUSES = ("new", "paid", "shipped", "completed", "cancelled")


@dataclass(frozen=True)
class MethodContext:
    conn: asyncpg.Connection
    params: MethodParams
    max_limit: int


Method = Callable[[MethodContext], Awaitable[Any]]


@dataclass(frozen=True)
class ApiMethod:
    app: str
    name: str
    resource: str  # reading needs "<resource>:read"
    run: Method


async def _info(context: MethodContext, entity: EntitySet, missing: str) -> dict[str, object]:
    found = await read_one(context.conn, entity, context.params.integer("id", 1, MAX_ID))
    if found is None:
        raise InvalidParam(missing)
    return found


def _window(context: MethodContext) -> tuple[int, int]:
    offset = context.params.integer("offset", 0, MAX_OFFSET, default=0)
    limit = context.params.integer("limit", 1, context.max_limit, default=min(DEFAULT_LIMIT, context.max_limit))
    return offset, limit


async def product_get_info(context: MethodContext) -> dict[str, object]:
    return await _info(context, PRODUCTS, "Product not found")


async def product_get_list(context: MethodContext) -> dict[str, object]:
    offset, limit = _window(context)
    category_id = context.params.optional_integer("category_id", 1, MAX_ID)
    condition = equals("category_id", category_id) if category_id is not None else None
    window = await read_slice(context.conn, PRODUCTS, offset, limit, condition)
    return {"offset": offset, "limit": limit, "count": window.count, "products": window.entities}


async def product_search(context: MethodContext) -> dict[str, object]:
    """Every word of `query` must appear in a searchable field (sku, name, description), case-insensitively."""
    words = tuple(context.params.text("query", MAX_SEARCH_LENGTH).split())
    if len(words) > MAX_SEARCH_WORDS:
        raise InvalidRequest(f"Invalid query: at most {MAX_SEARCH_WORDS} words")
    offset, limit = _window(context)
    window = await read_slice(context.conn, PRODUCTS, offset, limit, search=words)
    return {"offset": offset, "limit": limit, "count": window.count, "products": window.entities}


async def category_get_info(context: MethodContext) -> dict[str, object]:
    return await _info(context, CATEGORIES, "Category not found")


async def category_get_tree(context: MethodContext) -> dict[str, object]:
    """The categories below parent_id (0: the roots), max_level levels deep, each with its "categories"."""
    parent_id = context.params.integer("parent_id", 0, MAX_ID, default=0)
    max_level = context.params.integer("max_level", 1, MAX_TREE_LEVELS, default=MAX_TREE_LEVELS)
    conn = context.conn
    if parent_id == 0:
        level = await read_roots(conn, CATEGORIES, "parent_id", MAX_TREE_NODES + 1)
    else:
        if await read_one(conn, CATEGORIES, parent_id) is None:
            raise InvalidParam("Category not found")
        level = await read_related(conn, CATEGORIES, "parent_id", [parent_id], MAX_TREE_NODES + 1)
    top = level
    total = len(level)
    depth = 1
    children_of: dict[object, list[dict[str, object]]] = {}
    while level:
        for node in level:
            node["depth"] = depth - 1
            node["categories"] = children_of.setdefault(node["id"], [])
        if total > MAX_TREE_NODES:
            raise InvalidRequest(f"The tree has more than {MAX_TREE_NODES} categories; narrow it with parent_id")
        if depth >= max_level:
            break
        ids = [int(str(node["id"])) for node in level]
        children = await read_related(conn, CATEGORIES, "parent_id", ids, MAX_TREE_NODES + 1 - total)
        for child in children:
            children_of[child["parent_id"]].append(child)
        total += len(children)
        level = children
        depth += 1
    return {"categories": top}


async def customer_get_info(context: MethodContext) -> dict[str, object]:
    return await _info(context, CUSTOMERS, "Customer not found")


async def order_get_info(context: MethodContext) -> dict[str, object]:
    order = await _info(context, ORDERS, "Order not found")
    order["items"] = await read_related(context.conn, ORDER_ITEMS, "order_id", [int(str(order["id"]))])
    return order


async def order_get_list(context: MethodContext) -> dict[str, object]:
    offset, limit = _window(context)
    conditions = []
    customer_id = context.params.optional_integer("customer_id", 1, MAX_ID)
    if customer_id is not None:
        conditions.append(equals("customer_id", customer_id))
    status = context.params.optional_text("status", 20)
    if status is not None:
        if status not in ORDER_STATUSES:
            raise InvalidRequest(f"Invalid status: one of {', '.join(ORDER_STATUSES)} is expected")
        conditions.append(equals("status", status))
    window = await read_slice(context.conn, ORDERS, offset, limit, all_of(conditions))
    return {"offset": offset, "limit": limit, "count": window.count, "orders": window.entities}


METHODS: dict[tuple[str, str], ApiMethod] = {
    (method.app, method.name.lower()): method
    for method in (
        ApiMethod("shop", "product.getInfo", "products", product_get_info),
        ApiMethod("shop", "product.getList", "products", product_get_list),
        ApiMethod("shop", "product.search", "products", product_search),
        ApiMethod("shop", "category.getInfo", "categories", category_get_info),
        ApiMethod("shop", "category.getTree", "categories", category_get_tree),
        ApiMethod("shop", "customer.getInfo", "customers", customer_get_info),
        ApiMethod("shop", "order.getInfo", "orders", order_get_info),
        ApiMethod("shop", "order.getList", "orders", order_get_list),
    )
}
INSTALLED_APPS = frozenset(app for app, _ in METHODS)


def find_method(app: str, name: str) -> ApiMethod | None:
    """PHP class names are case-insensitive, so Webasyst finds shop.product.getinfo too."""
    return METHODS.get((app, name.lower()))
