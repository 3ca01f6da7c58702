"""The api.php read methods of the shop app, one function each.

Shapes follow Webasyst's shop methods: getInfo answers the entity itself; getList and search answer
{"offset", "limit", "count", "<plural>": [...]}; category.getTree answers {"categories": [...]} nested through each
category's "categories"; skus.getList and images.getList a list. Parameter names are Webasyst's (`hash`, `offset`,
`limit`, `parent_id`, `max_level`, `product_id`), with this catalog's own (`query`, `category_id`, `status`) beside.
"""

from __future__ import annotations

from services.odata.apiphp import db
from services.odata.apiphp.context import MAX_ID, MethodContext
from services.odata.apiphp.errors import InvalidParam, NotFound
from services.odata.apiphp.hashes import hash_filter, words_filter
from services.odata.apiphp.images import MAX_IMAGES_PER_PRODUCT
from services.odata.apiphp.params import invalid, parse_datetime
from services.odata.apiphp.reads import all_of, equals, read_one, read_related, read_roots, read_slice
from services.odata.expressions import Binary, Literal, Node, Property
from shared.catalog.model import CATEGORIES, CUSTOMERS, ORDER_ITEMS, ORDERS, PRODUCTS, EntitySet

MAX_OFFSET = 10_000_000
DEFAULT_LIMIT = 100
MAX_SEARCH_LENGTH = 500
MAX_TREE_LEVELS = 10
MAX_TREE_NODES = 5000
MAX_HASH_LENGTH = 2000
ORDER_STATUSES = ("new", "paid", "shipped", "completed", "cancelled")


async def _info(context: MethodContext, entity: EntitySet, missing: str) -> dict[str, object]:
    found = await read_one(context.conn, entity, context.params.integer("id", 1, MAX_ID))
    if found is None:
        raise NotFound(missing)
    return found


def _window(context: MethodContext) -> tuple[int, int]:
    offset = context.params.integer("offset", 0, MAX_OFFSET, default=0)
    limit = context.params.integer("limit", 1, context.max_limit, default=min(DEFAULT_LIMIT, context.max_limit))
    return offset, limit


async def _search(context: MethodContext, entity: EntitySet, plural: str, conditions: list[Node]) -> dict[str, object]:
    offset, limit = _window(context)
    hash_text = context.params.optional_text("hash", MAX_HASH_LENGTH)
    if hash_text is not None:
        node = hash_filter(entity, hash_text)
        if node is not None:
            conditions.append(node)
    query = context.params.optional_text("query", MAX_SEARCH_LENGTH)
    if query is not None:
        node = words_filter(entity, query.split())
        if node is not None:
            conditions.append(node)
    window = await read_slice(context.conn, entity, offset, limit, all_of(conditions))
    return {"offset": offset, "limit": limit, "count": window.count, plural: window.entities}


async def product_get_info(context: MethodContext) -> dict[str, object]:
    product = await _info(context, PRODUCTS, "Product not found")
    product["skus"] = await db.list_skus(context.conn, int(str(product["id"])))
    return product


async def product_get_list(context: MethodContext) -> dict[str, object]:
    category_id = context.params.optional_integer("category_id", 1, MAX_ID)
    return await _search(context, PRODUCTS, "products", [equals("category_id", category_id)] if category_id else [])


async def product_search(context: MethodContext) -> dict[str, object]:
    """Webasyst's `hash` (search/query=…, category/ID, id/…, search/FIELD OP VALUE) or `query` (every word);
    neither is every product, as in Webasyst."""
    return await _search(context, PRODUCTS, "products", [])


async def _product_id(context: MethodContext) -> int:
    product_id = context.params.integer("product_id", 1, MAX_ID)
    if not await db.product_exists(context.conn, product_id):
        raise NotFound("Product not found")
    return product_id


async def product_skus_get_list(context: MethodContext) -> list[dict[str, object]]:
    return await db.list_skus(context.conn, await _product_id(context))


async def product_images_get_list(context: MethodContext) -> list[dict[str, object]]:
    return await db.list_images(context.conn, await _product_id(context), MAX_IMAGES_PER_PRODUCT)


async def category_get_info(context: MethodContext) -> dict[str, object]:
    return await _info(context, CATEGORIES, "Category not found")


async def _tree(context: MethodContext) -> list[dict[str, object]]:
    """The categories below parent_id (0: the roots), max_level levels deep, each with its "categories"."""
    parent_id = context.params.integer("parent_id", 0, MAX_ID, default=0)
    max_level = context.params.integer("max_level", 1, MAX_TREE_LEVELS, default=MAX_TREE_LEVELS)
    conn = context.conn
    if parent_id == 0:
        level = await read_roots(conn, CATEGORIES, "parent_id", MAX_TREE_NODES + 1)
    else:
        if await read_one(conn, CATEGORIES, parent_id) is None:
            raise NotFound("Category not found")
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
            raise InvalidParam(f"The tree has more than {MAX_TREE_NODES} categories; narrow it with parent_id")
        if depth >= max_level:
            break
        ids = [int(str(node["id"])) for node in level]
        children = await read_related(conn, CATEGORIES, "parent_id", ids, MAX_TREE_NODES + 1 - total)
        for child in children:
            children_of[child["parent_id"]].append(child)
        total += len(children)
        level = children
        depth += 1
    return top


async def category_get_tree(context: MethodContext) -> dict[str, object]:
    return {"categories": await _tree(context)}


async def category_get_list(context: MethodContext) -> dict[str, object]:
    """The same categories as getTree, flat, in tree order (each with its depth and parent_id)."""
    flat: list[dict[str, object]] = []

    def walk(nodes: list[dict[str, object]]) -> None:
        for node in nodes:
            children = node.pop("categories")
            flat.append(node)
            walk(children)  # type: ignore[arg-type]

    walk(await _tree(context))
    return {"categories": flat}


async def customer_get_info(context: MethodContext) -> dict[str, object]:
    return await _info(context, CUSTOMERS, "Customer not found")


async def customer_search(context: MethodContext) -> dict[str, object]:
    return await _search(context, CUSTOMERS, "customers", [])


async def _with_items(context: MethodContext, orders: list[dict[str, object]]) -> None:
    ids = [int(str(order["id"])) for order in orders]
    items = await read_related(context.conn, ORDER_ITEMS, "order_id", ids, 1000 * max(len(ids), 1))
    by_order: dict[object, list[dict[str, object]]] = {order["id"]: [] for order in orders}
    for item in items:
        by_order[item["order_id"]].append(item)
    for order in orders:
        order["items"] = by_order[order["id"]]


async def order_get_info(context: MethodContext) -> dict[str, object]:
    order = await _info(context, ORDERS, "Order not found")
    await _with_items(context, [order])
    return order


def _order_conditions(context: MethodContext) -> list[Node]:
    conditions: list[Node] = []
    customer_id = context.params.optional_integer("customer_id", 1, MAX_ID)
    if customer_id is not None:
        conditions.append(equals("customer_id", customer_id))
    status = context.params.optional_text("status", 20)
    if status is not None:
        if status not in ORDER_STATUSES:
            raise invalid("status", f"one of {', '.join(ORDER_STATUSES)} is expected")
        conditions.append(equals("status", status))
    for name, operator in (("from", "ge"), ("to", "lt")):
        value = context.params.optional_text(name, 40)
        if value is not None:
            conditions.append(Binary(operator, Property("placed_at", 0), Literal(parse_datetime(name, value), 0), 0))
    return conditions


async def order_get_list(context: MethodContext) -> dict[str, object]:
    return await _search(context, ORDERS, "orders", _order_conditions(context))


async def order_search(context: MethodContext) -> dict[str, object]:
    """Webasyst's `hash` (search/state_id=paid&create_datetime>=2024-01-01, id/…), each order with its items."""
    found = await _search(context, ORDERS, "orders", _order_conditions(context))
    await _with_items(context, found["orders"])  # type: ignore[arg-type]
    return found
