"""Saving mappers: the request body checked against the entity model before anything is stored."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from services.importer.entities import IMPORT_ENTITIES, ImportEntity, import_entity
from services.importer.mappers import MAPPER_ID, InvalidMapper, parse_definition
from shared.errors import BadRequest

MAX_NAME = 200


class UnknownEntity(BadRequest):
    code = "unknown_entity"


@dataclass(frozen=True)
class MapperInput:
    entity: ImportEntity
    name: str
    definition: dict[str, Any]


def require_entity(name: Any, target: str = "entity") -> ImportEntity:
    entity = import_entity(name) if isinstance(name, str) else None
    if entity is None:
        known = ", ".join(sorted(IMPORT_ENTITIES))
        raise UnknownEntity(f"Unknown entity {str(name)[:40]!r}; importable entities: {known}", target=target)
    return entity


def check_mapper_id(mapper_id: Any) -> str:
    if not isinstance(mapper_id, str) or not MAPPER_ID.match(mapper_id):
        raise InvalidMapper("id must be 1 to 64 lowercase letters, digits, '-' or '_'", target="id")
    return mapper_id


def new_mapper_id(entity: ImportEntity) -> str:
    return f"{entity.name.replace('_', '-')}-{secrets.token_hex(4)}"


def read_mapper_input(body: Any) -> MapperInput:
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object with entity and definition")
    unknown = set(body) - {"id", "entity", "name", "definition"}
    if unknown:
        raise BadRequest(f"Unknown mapper properties: {', '.join(sorted(unknown))[:200]}")
    entity = require_entity(body.get("entity"))
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise BadRequest(f"name must be text of at most {MAX_NAME} characters", target="name")
    definition = body.get("definition")
    parse_definition(entity, definition)
    assert isinstance(definition, dict)
    return MapperInput(entity=entity, name=name, definition=definition)
