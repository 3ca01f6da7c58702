"""Every api.php method, with the permission and HTTP methods it takes."""

from __future__ import annotations

from services.odata.apiphp import methods, writes
from services.odata.apiphp.context import WRITE_HTTP_METHODS, ApiMethod

METHODS: dict[tuple[str, str], ApiMethod] = {
    (method.app, method.name.lower()): method
    for method in (
        ApiMethod("shop", "product.getInfo", "products", "read", methods.product_get_info),
        ApiMethod("shop", "product.getList", "products", "read", methods.product_get_list),
        ApiMethod("shop", "product.search", "products", "read", methods.product_search),
        ApiMethod("shop", "product.skus.getList", "products", "read", methods.product_skus_get_list),
        ApiMethod("shop", "product.images.getList", "products", "read", methods.product_images_get_list),
        ApiMethod("shop", "product.add", "products", "create", writes.product_add, WRITE_HTTP_METHODS),
        ApiMethod("shop", "product.update", "products", "update", writes.product_update, WRITE_HTTP_METHODS),
        ApiMethod("shop", "product.delete", "products", "delete", writes.product_delete, WRITE_HTTP_METHODS),
        ApiMethod("shop", "product.images.add", "products", "update", writes.product_images_add, WRITE_HTTP_METHODS),
        ApiMethod("shop", "category.getInfo", "categories", "read", methods.category_get_info),
        ApiMethod("shop", "category.getTree", "categories", "read", methods.category_get_tree),
        ApiMethod("shop", "category.getList", "categories", "read", methods.category_get_list),
        ApiMethod("shop", "customer.getInfo", "customers", "read", methods.customer_get_info),
        ApiMethod("shop", "customer.search", "customers", "read", methods.customer_search),
        ApiMethod("shop", "order.getInfo", "orders", "read", methods.order_get_info),
        ApiMethod("shop", "order.getList", "orders", "read", methods.order_get_list),
        ApiMethod("shop", "order.search", "orders", "read", methods.order_search),
        ApiMethod("shop", "order.action", "orders", "update", writes.order_action, WRITE_HTTP_METHODS),
    )
}
INSTALLED_APPS = frozenset(app for app, _ in METHODS)
# The resources of each app: a user with no right on any of them has no access to the app (Webasyst's backend
# right), whatever the token's scope says.
APP_RESOURCES = {app: frozenset(m.resource for m in METHODS.values() if m.app == app) for app in INSTALLED_APPS}


def find_method(app: str, name: str) -> ApiMethod | None:
    """PHP class names are case-insensitive, so Webasyst finds shop.product.getinfo too."""
    return METHODS.get((app, name.lower()))
