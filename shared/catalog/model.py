"""The entity model, declared once: OData, the Query API, api.php and the importer's mappers all read it.

Every identifier that reaches SQL (schema, table, column) comes from these declarations, never from a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.catalog import SCHEMA

# Edm primitive types used by the catalog, with the PostgreSQL type a bound value is cast to.
EDM_SQL_TYPES: dict[str, str] = {
    "Edm.Int64": "bigint",
    "Edm.Int32": "integer",
    "Edm.String": "text",
    "Edm.Decimal": "numeric",
    "Edm.Boolean": "boolean",
    "Edm.DateTimeOffset": "timestamptz",
}

# The PostgreSQL text-search configuration of $search: English stemming ("lamps" finds "lamp") and stop words
# ("the", "of" are ignored). The generated search_document columns of migration 004 are computed with it; changing
# it needs a new migration that redefines them.
TEXT_SEARCH_CONFIG = "english"
SEARCH_COLUMN = "search_document"  # the stored tsvector of each entity with searchable fields (GIN-indexed)


@dataclass(frozen=True)
class Field:
    """A typed, scalar property of an entity; `name` is also its column."""

    name: str
    edm_type: str
    nullable: bool = False
    searchable: bool = False
    sortable: bool = False
    max_length: int | None = None
    generated: bool = False  # filled by the database (identity, timestamps); importers do not map it
    required: bool = False  # must be given on insert (NOT NULL without a default)

    @property
    def sql_type(self) -> str:
        return EDM_SQL_TYPES[self.edm_type]


@dataclass(frozen=True)
class Relation:
    """A navigation property: rows of `target` whose `remote_field` equals this row's `local_field`."""

    name: str
    target: str
    many: bool
    local_field: str
    remote_field: str


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    table: str
    resource: str  # the permission resource: reading needs "<resource>:read"
    key: str
    fields: tuple[Field, ...]
    relations: tuple[Relation, ...] = ()
    key_candidates: tuple[str, ...] = ()  # unique natural keys an import may update by (e.g. sku)

    @property
    def qualified_table(self) -> str:
        return f'"{SCHEMA}"."{self.table}"'

    def field(self, name: str) -> Field | None:
        return _FIELD_INDEX[self.name].get(name)

    def relation(self, name: str) -> Relation | None:
        return _RELATION_INDEX[self.name].get(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    @property
    def searchable_fields(self) -> tuple[Field, ...]:
        return tuple(field for field in self.fields if field.searchable)


def search_document(entity: EntitySet, alias: str | None = None) -> str:
    """The tsvector $search matches: the searchable fields joined by spaces, in model order. Migration 004 stores
    exactly this (as the generated column SEARCH_COLUMN); a test checks that the two agree."""
    prefix = f"{alias}." if alias else ""
    text = " || ' ' || ".join(f'{prefix}"{field.name}"' for field in entity.searchable_fields)
    return f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, {text})"


def _id() -> Field:
    return Field("id", "Edm.Int64", sortable=True, generated=True)


def _stamps() -> tuple[Field, ...]:
    return (
        Field("created_at", "Edm.DateTimeOffset", sortable=True, generated=True),
        Field("updated_at", "Edm.DateTimeOffset", sortable=True, generated=True),
    )


PRODUCTS = EntitySet(
    name="products",
    type_name="Product",
    table="products",
    resource="products",
    key="id",
    fields=(
        _id(),
        Field("sku", "Edm.String", searchable=True, sortable=True, max_length=64, required=True),
        Field("name", "Edm.String", searchable=True, sortable=True, max_length=300, required=True),
        Field("description", "Edm.String", searchable=True, max_length=20000),
        Field("price", "Edm.Decimal", sortable=True, required=True),
        Field("stock", "Edm.Int32", sortable=True),
        Field("category_id", "Edm.Int64", nullable=True, sortable=True),
        Field("active", "Edm.Boolean", sortable=True),
        *_stamps(),
    ),
    relations=(
        Relation("category", "categories", many=False, local_field="category_id", remote_field="id"),
        Relation("order_items", "order_items", many=True, local_field="id", remote_field="product_id"),
    ),
    key_candidates=("sku",),
)

CATEGORIES = EntitySet(
    name="categories",
    type_name="Category",
    table="categories",
    resource="categories",
    key="id",
    fields=(
        _id(),
        Field("parent_id", "Edm.Int64", nullable=True, sortable=True),
        Field("name", "Edm.String", searchable=True, sortable=True, max_length=200, required=True),
        Field("slug", "Edm.String", searchable=True, sortable=True, max_length=200, required=True),
        *_stamps(),
    ),
    relations=(
        Relation("parent", "categories", many=False, local_field="parent_id", remote_field="id"),
        Relation("children", "categories", many=True, local_field="id", remote_field="parent_id"),
        Relation("products", "products", many=True, local_field="id", remote_field="category_id"),
    ),
    key_candidates=("slug",),
)

CUSTOMERS = EntitySet(
    name="customers",
    type_name="Customer",
    table="customers",
    resource="customers",
    key="id",
    fields=(
        _id(),
        Field("email", "Edm.String", searchable=True, sortable=True, max_length=320, required=True),
        Field("first_name", "Edm.String", searchable=True, sortable=True, max_length=100),
        Field("last_name", "Edm.String", searchable=True, sortable=True, max_length=100),
        Field("phone", "Edm.String", max_length=40),
        Field("city", "Edm.String", searchable=True, sortable=True, max_length=100),
        Field("country", "Edm.String", sortable=True, max_length=2),
        *_stamps(),
    ),
    relations=(Relation("orders", "orders", many=True, local_field="id", remote_field="customer_id"),),
    key_candidates=("email",),
)

ORDERS = EntitySet(
    name="orders",
    type_name="Order",
    table="orders",
    resource="orders",
    key="id",
    fields=(
        _id(),
        Field("number", "Edm.String", searchable=True, sortable=True, max_length=40, required=True),
        Field("customer_id", "Edm.Int64", sortable=True, required=True),
        Field("status", "Edm.String", sortable=True, max_length=20),
        Field("total", "Edm.Decimal", sortable=True),
        Field("currency", "Edm.String", sortable=True, max_length=3),
        Field("placed_at", "Edm.DateTimeOffset", sortable=True),
        *_stamps(),
    ),
    relations=(
        Relation("customer", "customers", many=False, local_field="customer_id", remote_field="id"),
        Relation("items", "order_items", many=True, local_field="id", remote_field="order_id"),
    ),
    key_candidates=("number",),
)

ORDER_ITEMS = EntitySet(
    name="order_items",
    type_name="OrderItem",
    table="order_items",
    resource="orders",
    key="id",
    fields=(
        _id(),
        Field("order_id", "Edm.Int64", sortable=True, required=True),
        Field("product_id", "Edm.Int64", sortable=True, required=True),
        Field("quantity", "Edm.Int32", sortable=True, required=True),
        Field("unit_price", "Edm.Decimal", sortable=True, required=True),
    ),
    relations=(
        Relation("order", "orders", many=False, local_field="order_id", remote_field="id"),
        Relation("product", "products", many=False, local_field="product_id", remote_field="id"),
    ),
)

ENTITY_SETS: dict[str, EntitySet] = {
    entity.name: entity for entity in (PRODUCTS, CATEGORIES, CUSTOMERS, ORDERS, ORDER_ITEMS)
}

_FIELD_INDEX: dict[str, dict[str, Field]] = {
    entity.name: {field.name: field for field in entity.fields} for entity in ENTITY_SETS.values()
}
_RELATION_INDEX: dict[str, dict[str, Relation]] = {
    entity.name: {relation.name: relation for relation in entity.relations} for entity in ENTITY_SETS.values()
}
