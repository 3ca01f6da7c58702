"""The CSDL XML ($metadata) and the service document, both generated from the entity model (OData v4 CSDL XML,
section 3 onwards)."""

from __future__ import annotations

from functools import cache
from xml.etree import ElementTree as ET

from shared.catalog.model import ENTITY_SETS, EntitySet

NAMESPACE = "Commerce"
CONTAINER = "Catalog"
EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"


def _partner(entity: EntitySet, relation_name: str) -> str | None:
    relation = entity.relation(relation_name)
    assert relation is not None
    target = ENTITY_SETS[relation.target]
    for other in target.relations:
        if (
            other.target == entity.name
            and other.many != relation.many
            and other.local_field == relation.remote_field
            and other.remote_field == relation.local_field
        ):
            return other.name
    return None


def _entity_type(schema: ET.Element, entity: EntitySet) -> None:
    element = ET.SubElement(schema, "EntityType", Name=entity.type_name)
    key = ET.SubElement(element, "Key")
    ET.SubElement(key, "PropertyRef", Name=entity.key)
    for field in entity.fields:
        attributes = {"Name": field.name, "Type": field.edm_type, "Nullable": "true" if field.nullable else "false"}
        if field.max_length is not None:
            attributes["MaxLength"] = str(field.max_length)
        if field.edm_type == "Edm.Decimal":
            attributes.update(Precision="12", Scale="2")
        ET.SubElement(element, "Property", attributes)
    for relation in entity.relations:
        target = ENTITY_SETS[relation.target]
        type_name = f"{NAMESPACE}.{target.type_name}"
        attributes = {"Name": relation.name, "Type": f"Collection({type_name})" if relation.many else type_name}
        if not relation.many:
            local = entity.field(relation.local_field)
            attributes["Nullable"] = "true" if local is None or local.nullable else "false"
        partner = _partner(entity, relation.name)
        if partner:
            attributes["Partner"] = partner
        navigation = ET.SubElement(element, "NavigationProperty", attributes)
        if not relation.many:
            ET.SubElement(
                navigation,
                "ReferentialConstraint",
                Property=relation.local_field,
                ReferencedProperty=relation.remote_field,
            )


@cache
def metadata_xml() -> bytes:
    root = ET.Element("edmx:Edmx", {"Version": "4.0", "xmlns:edmx": EDMX})
    services = ET.SubElement(root, "edmx:DataServices")
    schema = ET.SubElement(services, "Schema", {"xmlns": EDM, "Namespace": NAMESPACE})
    for entity in ENTITY_SETS.values():
        _entity_type(schema, entity)
    container = ET.SubElement(schema, "EntityContainer", Name=CONTAINER)
    for entity in ENTITY_SETS.values():
        element = ET.SubElement(container, "EntitySet", Name=entity.name, EntityType=f"{NAMESPACE}.{entity.type_name}")
        for relation in entity.relations:
            ET.SubElement(element, "NavigationPropertyBinding", Path=relation.name, Target=relation.target)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def service_document(base: str) -> dict[str, object]:
    return {
        "@odata.context": f"{base}/$metadata",
        "value": [{"name": entity.name, "kind": "EntitySet", "url": entity.name} for entity in ENTITY_SETS.values()],
    }
