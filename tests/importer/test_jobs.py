from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp.test_utils import TestClient

from shared.principal import Principal
from tests.importer.conftest import csv_form, everything, make_principal, tag


async def _import(client: TestClient, headers: dict[str, str], mapper_id: str) -> str:
    csv = f"sku;name;price\nJ-{tag()};Job;1,00\n"
    response = await client.post("/api/import", data=csv_form(csv, "products", mapper_id), headers=headers)
    assert response.status == 200, await response.text()
    return str((await response.json())["id"])


async def test_users_list_their_own_jobs_and_admins_list_all(
    client: TestClient, sign: Callable[[Principal], dict[str, str]], as_user: dict[str, str], products_mapper: str
) -> None:
    mine = await _import(client, as_user, products_mapper)
    other = sign(make_principal(*everything()))
    theirs = await _import(client, other, products_mapper)
    listed = await (await client.get("/api/imports", headers=as_user)).json()
    ids = {job["id"] for job in listed["value"]}
    assert mine in ids and theirs not in ids
    admin = sign(make_principal("imports:read", admin=True))
    everything_listed = await (await client.get("/api/imports?limit=200", headers=admin)).json()
    assert {mine, theirs} <= {job["id"] for job in everything_listed["value"]}


async def test_another_users_job_reads_as_not_found(
    client: TestClient, sign: Callable[[Principal], dict[str, str]], as_user: dict[str, str], products_mapper: str
) -> None:
    job_id = await _import(client, as_user, products_mapper)
    stranger = sign(make_principal(*everything()))
    assert (await client.get(f"/api/imports/{job_id}", headers=stranger)).status == 404
    assert (await client.get(f"/api/imports/{job_id}", headers=as_user)).status == 200


async def test_a_finished_job_cannot_be_cancelled(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    job_id = await _import(client, as_user, products_mapper)
    response = await client.post(f"/api/imports/{job_id}/cancel", headers=as_user)
    assert response.status == 400
    assert "completed" in (await response.json())["error"]["message"]


async def test_a_jobs_times_come_from_one_clock_in_the_order_they_happened(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    job_id = await _import(client, as_user, products_mapper)
    job = await (await client.get(f"/api/imports/{job_id}", headers=as_user)).json()
    created, started, finished = (
        datetime.fromisoformat(job[name]) for name in ("createdAt", "startedAt", "finishedAt")
    )
    assert created <= started <= finished
