"""The api.php write methods a sync client needs: shop.product.add, .update, .delete, shop.product.images.add
(multipart) and shop.order.action, with Webasyst's parameter names where the catalog has the field.

Product fields: name, summary|description, status (1 active, 0 hidden), category_id, and the main SKU as
sku/price/count (or stock), or as skus[0][sku], skus[0][price], skus[0][count]; skus[N][…] (sku, name, price, count,
available) are the product's SKUs. Each method answers what Webasyst's does: the product (shop.product.getInfo),
true, the image, the order.
"""

from __future__ import annotations

from decimal import Decimal

from services.odata.apiphp import db
from services.odata.apiphp.context import MAX_ID, MethodContext
from services.odata.apiphp.errors import InvalidParam, NotFound
from services.odata.apiphp.images import MAX_IMAGES_PER_PRODUCT, identify
from services.odata.apiphp.methods import order_get_info, product_get_info
from services.odata.apiphp.params import MethodParams, invalid, missing, parse_decimal, parse_flag, parse_integer
from services.odata.apiphp.reads import read_one
from shared.catalog.model import CATEGORIES

MAX_STOCK = 2**31 - 1
MAX_DESCRIPTION = 20_000
# Webasyst's order workflow actions, narrowed to this catalog's states: the action, the states it may start
# from, and the state it leads to.
ORDER_ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "pay": (frozenset({"new"}), "paid"),
    "ship": (frozenset({"new", "paid"}), "shipped"),
    "complete": (frozenset({"new", "paid", "shipped"}), "completed"),
    "delete": (frozenset({"new", "paid", "shipped"}), "cancelled"),
    "refund": (frozenset({"paid", "shipped", "completed"}), "cancelled"),
    "restore": (frozenset({"cancelled"}), "new"),
}


def _main_sku(params: MethodParams) -> dict[str, str]:
    skus = params.items("skus")
    return skus[0] if skus else {}


def _skus(params: MethodParams) -> list[dict[str, object]]:
    found = []
    for index, item in enumerate(params.items("skus")):
        name = f"skus[{index}]"
        stock = item.get("count", item.get("stock", "")).strip()
        found.append(
            {
                "sku": item.get("sku", "").strip()[:64],
                "name": item.get("name", "").strip()[:300],
                "price": parse_decimal(name + "[price]", item.get("price", "0").strip() or "0"),
                "stock": parse_integer(name + "[count]", stock, 0, MAX_STOCK) if stock else None,
                "available": parse_flag(name + "[available]", item.get("available", "1").strip() or "1"),
            }
        )
    return found


async def _product_values(context: MethodContext, *, adding: bool) -> dict[str, object]:
    """The product columns this call sets, each checked; only the given ones (an update changes what it names)."""
    params = context.params
    main = _main_sku(params)
    values: dict[str, object] = {}
    name = params.optional_text("name", 300)
    if name is not None:
        values["name"] = name
    elif adding:
        raise missing("name")
    description = params.raw_text("description", MAX_DESCRIPTION)
    if description is None:
        description = params.raw_text("summary", MAX_DESCRIPTION)
    if description is not None:
        values["description"] = description
    active = params.optional_flag("status")
    if active is not None:
        values["active"] = active
    if params.given("category_id"):
        category_id = params.integer("category_id", 0, MAX_ID)
        if category_id and await read_one(context.conn, CATEGORIES, category_id) is None:
            raise invalid("category_id", "no such category")
        values["category_id"] = category_id or None
    sku = params.optional_text("sku", 64) or (main.get("sku", "").strip() or None)
    if sku is not None:
        values["sku"] = sku
    elif adding:
        raise missing("sku")
    price = params.optional_decimal("price")
    if price is None and main.get("price", "").strip():
        price = parse_decimal("skus[0][price]", main["price"].strip())
    if price is not None:
        values["price"] = price
    elif adding:
        values["price"] = Decimal(0)
    for stock_name in ("count", "stock"):
        if params.given(stock_name):
            values["stock"] = params.integer(stock_name, 0, MAX_STOCK)
    if "stock" not in values and main.get("count", "").strip():
        values["stock"] = parse_integer("skus[0][count]", main["count"].strip(), 0, MAX_STOCK)
    return values


async def product_add(context: MethodContext) -> dict[str, object]:
    values = await _product_values(context, adding=True)
    skus = _skus(context.params)
    async with context.conn.transaction():
        product_id = await db.insert_product(context.conn, values)
        if skus:
            await db.replace_skus(context.conn, product_id, skus)
    return await product_get_info(_for_id(context, product_id))


async def product_update(context: MethodContext) -> dict[str, object]:
    product_id = context.params.integer("id", 1, MAX_ID)
    values = await _product_values(context, adding=False)
    skus = _skus(context.params)
    async with context.conn.transaction():
        if not await db.product_exists(context.conn, product_id, lock=True):
            raise NotFound("Product not found")
        if values and not await db.update_product(context.conn, product_id, values):
            raise NotFound("Product not found")
        if skus:
            await db.replace_skus(context.conn, product_id, skus)
    return await product_get_info(context)


async def product_delete(context: MethodContext) -> bool:
    """`id` is one id, a comma-separated list or id[]; every one must exist (nothing is deleted otherwise)."""
    ids = context.params.integers("id", 1, MAX_ID)
    async with context.conn.transaction():
        deleted = await db.delete_products(context.conn, ids)
        if deleted != ids:
            absent = sorted(set(ids) - set(deleted))
            raise NotFound(f"Product not found: {', '.join(map(str, absent[:10]))}")
    return True


async def product_images_add(context: MethodContext) -> dict[str, object]:
    product_id = context.params.integer("product_id", 1, MAX_ID)
    upload = context.params.files.get("file")
    if upload is None:
        raise missing("file")
    content_type, size = identify(upload.content)
    description = context.params.raw_text("description", 1000) or ""
    filename = "".join(char for char in upload.filename.rsplit("/", 1)[-1] if char.isprintable())[:255]
    async with context.conn.transaction():
        if not await db.product_exists(context.conn, product_id, lock=True):
            raise NotFound("Product not found")
        if await db.count_images(context.conn, product_id) >= MAX_IMAGES_PER_PRODUCT:
            raise InvalidParam(f"A product has at most {MAX_IMAGES_PER_PRODUCT} images.")
        return await db.insert_image(
            context.conn, product_id, upload.content, content_type, size, filename, description
        )


async def order_action(context: MethodContext) -> dict[str, object]:
    """Run a workflow action (`action`: pay, ship, complete, delete, refund, restore) on order `id`."""
    order_id = context.params.integer("id", 1, MAX_ID)
    action = context.params.text("action", 32)
    if action not in ORDER_ACTIONS:
        raise invalid("action", f"one of {', '.join(ORDER_ACTIONS)} is expected")
    starts, leads_to = ORDER_ACTIONS[action]
    async with context.conn.transaction():
        status = await db.order_status(context.conn, order_id)
        if status is None:
            raise NotFound("Order not found")
        if status not in starts:
            raise NotFound("Available action not found for the specified order")
        await db.set_order_status(context.conn, order_id, leads_to)
    return await order_get_info(context)


def _for_id(context: MethodContext, entity_id: int) -> MethodContext:
    """The context of the getInfo a write answers with (Webasyst sets $_GET['id'] and calls the method)."""
    return MethodContext(context.conn, MethodParams([("id", str(entity_id))]), context.max_limit)
