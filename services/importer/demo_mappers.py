"""The demo mappers, one per entity, matching the sample CSV files in services/importer/samples/."""

from __future__ import annotations

from typing import Any

DEMO_MAPPERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "products-default": (
        "products",
        "Products: sku, name, price, stock, description, active",
        {
            "key": "sku",
            "columns": [
                {"column": "sku", "field": "sku", "required": True},
                {"column": "name", "field": "name", "required": True},
                {"column": "price", "field": "price"},
                {"column": "stock", "field": "stock", "default": "0"},
                {"column": "description", "field": "description"},
                {"column": "active", "field": "active", "default": "true"},
            ],
        },
    ),
    "categories-default": (
        "categories",
        "Categories: slug, name",
        {
            "key": "slug",
            "columns": [
                {"column": "slug", "field": "slug", "case": "lower", "required": True},
                {"column": "name", "field": "name", "required": True},
            ],
        },
    ),
    "customers-default": (
        "customers",
        "Customers: email (lower-cased), names, phone, city, country",
        {
            "key": "email",
            "columns": [
                {"column": "email", "field": "email", "case": "lower", "required": True},
                {"column": "first_name", "field": "first_name"},
                {"column": "last_name", "field": "last_name"},
                {"column": "phone", "field": "phone"},
                {"column": "city", "field": "city"},
                {"column": "country", "field": "country", "case": "upper"},
            ],
        },
    ),
    "orders-default": (
        "orders",
        "Orders: number, customer id, status, total (decimal comma), currency, date (dd.mm.yyyy); semicolons",
        {
            "delimiter": ";",
            "key": "number",
            "columns": [
                {"column": "number", "field": "number", "required": True},
                {"column": "customer_id", "field": "customer_id"},
                {"column": "status", "field": "status", "case": "lower", "default": "new"},
                {"column": "total", "field": "total", "decimalSeparator": ","},
                {"column": "currency", "field": "currency", "case": "upper", "default": "EUR"},
                {"column": "placed", "field": "placed_at", "dateFormat": "%d.%m.%Y"},
            ],
        },
    ),
    "order-items-default": (
        "order_items",
        "Order items (insert-only): order id, product id, quantity, unit price",
        {
            "key": None,
            "columns": [
                {"column": "order_id", "field": "order_id"},
                {"column": "product_id", "field": "product_id"},
                {"column": "quantity", "field": "quantity"},
                {"column": "unit_price", "field": "unit_price"},
            ],
        },
    ),
}
