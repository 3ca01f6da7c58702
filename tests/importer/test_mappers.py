from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from shared.principal import Principal
from tests.importer.conftest import make_principal

VALID = {
    "key": "email",
    "columns": [
        {"column": "E-Mail", "field": "email", "case": "lower"},
        {"column": "Land", "field": "country", "case": "upper", "default": "DE"},
    ],
}


def _body(definition: Any, entity: str = "customers", **extra: Any) -> dict[str, Any]:
    return {"id": f"m-{secrets.token_hex(4)}", "entity": entity, "definition": definition, **extra}


async def test_a_mapper_is_created_read_listed_updated_and_deleted(client: TestClient, as_user: dict[str, str]) -> None:
    body = _body(VALID, name="Customers from the shop")
    created = await client.post("/api/mappers", json=body, headers=as_user)
    assert created.status == 201
    assert created.headers["Location"] == f"/api/mappers/{body['id']}"
    read = await (await client.get(f"/api/mappers/{body['id']}", headers=as_user)).json()
    assert (read["entity"], read["name"], read["definition"]) == ("customers", "Customers from the shop", VALID)
    listed = await (await client.get("/api/mappers?entity=customers&limit=200", headers=as_user)).json()
    assert body["id"] in {mapper["id"] for mapper in listed["value"]}
    changed = {**VALID, "delimiter": ";"}
    updated = await client.put(f"/api/mappers/{body['id']}", json=_body(changed) | {"id": body["id"]}, headers=as_user)
    assert updated.status == 200
    assert (await updated.json())["definition"]["delimiter"] == ";"
    assert (await client.delete(f"/api/mappers/{body['id']}", headers=as_user)).status == 204
    assert (await client.get(f"/api/mappers/{body['id']}", headers=as_user)).status == 404


async def test_a_mapper_id_is_generated_when_not_given(client: TestClient, as_user: dict[str, str]) -> None:
    response = await client.post("/api/mappers", json={"entity": "customers", "definition": VALID}, headers=as_user)
    assert response.status == 201
    assert (await response.json())["id"].startswith("customers-")


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        ({"columns": [{"column": "a", "field": "email"}, {"column": "b", "field": "shoe_size"}]}, "shoe_size"),
        ({"columns": [{"column": "a", "field": "first_name"}]}, "email"),
        ({"columns": [{"column": "a", "field": "email", "decimalSeparator": ","}]}, "decimal fields only"),
        ({"columns": [{"column": "a", "field": "email"}], "key": "city"}, "key"),
        ({"columns": [{"column": "a", "field": "email"}, {"column": "b", "field": "email"}]}, "twice"),
        ({"columns": [{"column": "a", "field": "email"}], "delimiter": ";;"}, "one character"),
        ({"columns": [{"column": "a", "field": "email"}], "encoding": "ebcdic"}, "encoding"),
        ({"columns": []}, "columns"),
        ("not an object", "object"),
    ],
)
async def test_an_invalid_mapper_is_refused_with_a_clear_400(
    client: TestClient, as_user: dict[str, str], definition: Any, expected: str
) -> None:
    response = await client.post("/api/mappers", json=_body(definition), headers=as_user)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_mapper"
    assert expected in error["message"] or expected == error.get("target")


async def test_a_default_that_does_not_convert_is_refused(client: TestClient, as_user: dict[str, str]) -> None:
    definition = {
        "columns": [
            {"column": "sku", "field": "sku"},
            {"column": "name", "field": "name"},
            {"column": "price", "field": "price", "default": "cheap"},
        ]
    }
    response = await client.post("/api/mappers", json=_body(definition, entity="products"), headers=as_user)
    assert response.status == 400
    assert "default" in (await response.json())["error"]["message"]


async def test_a_mapper_for_an_unknown_entity_is_refused(client: TestClient, as_user: dict[str, str]) -> None:
    response = await client.post("/api/mappers", json=_body(VALID, entity="spaceships"), headers=as_user)
    assert (await response.json())["error"]["code"] == "unknown_entity"


async def test_a_taken_mapper_id_is_a_409(client: TestClient, as_user: dict[str, str]) -> None:
    body = _body(VALID)
    assert (await client.post("/api/mappers", json=body, headers=as_user)).status == 201
    assert (await client.post("/api/mappers", json=body, headers=as_user)).status == 409


async def test_mapper_changes_need_the_mappers_permissions(
    client: TestClient, sign: Callable[[Principal], dict[str, str]]
) -> None:
    reader = sign(make_principal("mappers:read"))
    assert (await client.get("/api/mappers", headers=reader)).status == 200
    assert (await client.post("/api/mappers", json=_body(VALID), headers=reader)).status == 403
    assert (await client.delete("/api/mappers/anything", headers=reader)).status == 403
