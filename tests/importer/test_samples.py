"""The shipped samples import cleanly with the demo mappers (the README's example uses them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from services.importer.demo_mappers import DEMO_MAPPERS
from services.importer.mapper_inputs import require_entity
from services.importer.mappers import parse_definition
from tests.importer.conftest import csv_form

SAMPLES = Path(__file__).resolve().parents[2] / "services" / "importer" / "samples"


def test_every_demo_mapper_is_valid_and_has_a_sample() -> None:
    for entity, _, definition in DEMO_MAPPERS.values():
        parse_definition(require_entity(entity), definition)
        assert (SAMPLES / f"{entity}.csv").is_file()


@pytest.mark.parametrize("mapper_id", ["products-default", "categories-default", "customers-default"])
async def test_a_sample_imports_without_row_errors(client: TestClient, as_user: dict[str, str], mapper_id: str) -> None:
    entity, name, definition = DEMO_MAPPERS[mapper_id]
    own_id = f"{mapper_id}-t"
    await client.delete(f"/api/mappers/{own_id}", headers=as_user)
    body = {"id": own_id, "entity": entity, "name": name, "definition": definition}
    assert (await client.post("/api/mappers", json=body, headers=as_user)).status == 201
    sample = (SAMPLES / f"{entity}.csv").read_bytes()
    response = await client.post("/api/import", data=csv_form(sample, entity, own_id), headers=as_user)
    result = await response.json()
    assert result["status"] == "completed", result
    assert result["failed"] == 0, result["errors"]
    assert result["imported"] + result["updated"] == sample.count(b"\n") - 1
