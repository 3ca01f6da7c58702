"""What the importer knows of each entity, derived from the shared entity model (shared/catalog/model.py).

An importable entity is a catalog table, the columns a CSV may feed (every field the database does not fill
itself) with their types, and the natural key an import updates by (products.sku, ...); an entity without one
is insert-only. Every identifier that reaches SQL comes from here, never from a mapper or a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.catalog.model import ENTITY_SETS, SCHEMA, EntitySet

# The value kinds conversions produce, by Edm type.
KIND_BY_EDM = {
    "Edm.String": "text",
    "Edm.Int32": "integer",
    "Edm.Int64": "integer",
    "Edm.Decimal": "decimal",
    "Edm.Boolean": "boolean",
    "Edm.DateTimeOffset": "datetime",
}
INTEGER_RANGES = {"Edm.Int32": 2**31, "Edm.Int64": 2**63}


@dataclass(frozen=True)
class ImportField:
    name: str
    kind: str  # text | integer | decimal | boolean | datetime
    sql_type: str
    required: bool  # NOT NULL without a default: an insert must give it
    nullable: bool
    max_length: int | None
    integer_limit: int | None  # |value| must stay below this


@dataclass(frozen=True)
class ImportEntity:
    name: str
    table: str  # quoted, schema-qualified
    schema_name: str  # unquoted, for COPY
    table_name: str  # unquoted, for COPY
    resource: str  # permission resource
    fields: tuple[ImportField, ...]
    key: str | None  # natural key to update by; None: insert-only
    has_updated_at: bool

    def field(self, name: str) -> ImportField | None:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None


def _from_model(entity: EntitySet) -> ImportEntity:
    fields = tuple(
        ImportField(
            name=field.name,
            kind=KIND_BY_EDM[field.edm_type],
            sql_type=field.sql_type,
            required=field.required,
            nullable=field.nullable,
            max_length=field.max_length,
            integer_limit=INTEGER_RANGES.get(field.edm_type),
        )
        for field in entity.fields
        if not field.generated
    )
    return ImportEntity(
        name=entity.name,
        table=entity.qualified_table,
        schema_name=SCHEMA,
        table_name=entity.table,
        resource=entity.resource,
        fields=fields,
        key=entity.key_candidates[0] if entity.key_candidates else None,
        has_updated_at=entity.field("updated_at") is not None,
    )


IMPORT_ENTITIES: dict[str, ImportEntity] = {name: _from_model(entity) for name, entity in ENTITY_SETS.items()}


def import_entity(name: str) -> ImportEntity | None:
    return IMPORT_ENTITIES.get(name)
