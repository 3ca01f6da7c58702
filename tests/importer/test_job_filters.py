"""The list of import jobs filtered by state, entity and time, as the control panel's Imports page asks for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from tests.importer.conftest import csv_form, tag


async def _import(client: TestClient, headers: dict[str, str], csv: str, mapper: str) -> str:
    response = await client.post("/api/import", data=csv_form(csv, "products", mapper), headers=headers)
    assert response.status == 200, await response.text()
    return str((await response.json())["id"])


async def _ids(client: TestClient, headers: dict[str, str], query: str) -> set[str]:
    response = await client.get(f"/api/imports?{query}", headers=headers)
    assert response.status == 200, await response.text()
    return {job["id"] for job in (await response.json())["value"]}


async def test_jobs_are_filtered_by_state(client: TestClient, as_user: dict[str, str], products_mapper: str) -> None:
    completed = await _import(client, as_user, f"sku;name;price\nF-{tag()};Fine;1,00\n", products_mapper)
    failed = await _import(client, as_user, "no;such;columns\n1;2;3\n", products_mapper)
    assert completed in await _ids(client, as_user, "status=completed")
    assert failed not in await _ids(client, as_user, "status=completed")
    assert await _ids(client, as_user, "status=failed") >= {failed}


async def test_jobs_are_filtered_by_entity(client: TestClient, as_user: dict[str, str], products_mapper: str) -> None:
    job = await _import(client, as_user, f"sku;name;price\nE-{tag()};Entity;1,00\n", products_mapper)
    assert job in await _ids(client, as_user, "entity=products")
    assert job not in await _ids(client, as_user, "entity=customers")


async def test_jobs_are_filtered_by_the_time_they_were_made(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    job = await _import(client, as_user, f"sku;name;price\nT-{tag()};Time;1,00\n", products_mapper)
    after = datetime.now(UTC) + timedelta(minutes=5)
    assert job in await _ids(client, as_user, f"since={before.date().isoformat()}")
    assert job not in await _ids(client, as_user, f"since={after.isoformat().replace('+', '%2B')}")
    assert job not in await _ids(client, as_user, f"until={before.isoformat().replace('+', '%2B')}")


async def test_a_malformed_filter_is_a_400_naming_it(client: TestClient, as_user: dict[str, str]) -> None:
    for query, target in (("status=done", "status"), ("entity=planets", "entity"), ("since=yesterday", "since")):
        response = await client.get(f"/api/imports?{query}", headers=as_user)
        assert response.status == 400
        assert (await response.json())["error"]["target"] == target
