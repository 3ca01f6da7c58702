"""POST /api/import as seed 001's PHP client calls it: without Prefer: respond-async the call waits for the job's
end, however long, keeping the connection alive, and answers 200 with the counts; with it, 202 at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from services.importer.app import create_app
from services.importer.config import Config
from shared.principal import Principal
from tests.importer.conftest import create_products_mapper, csv_form, tag


async def _replica(aiohttp_client: Any, env: dict[str, str], **settings: str) -> TestClient:
    return await aiohttp_client(create_app(Config.from_env({**env, **settings})))


def _csv(rows: int = 2) -> str:
    prefix = tag()
    return "sku;name;price\n" + "".join(f"W-{prefix}-{n};Waited {n};1,00\n" for n in range(rows))


async def test_a_job_that_outlasts_the_keepalive_interval_answers_200_with_the_counts_after_keepalive_spaces(
    aiohttp_client: Any,
    importer_env: dict[str, str],
    as_user: dict[str, str],
) -> None:
    api = await _replica(
        aiohttp_client,
        importer_env,
        IMPORTER_WORKER="false",
        IMPORT_WAIT_SECONDS="120",
        IMPORT_KEEPALIVE_SECONDS="0.05",
    )
    products_mapper = await create_products_mapper(api, as_user)  # no replica with a worker exists yet
    response = await api.post("/api/import", data=csv_form(_csv(3), "products", products_mapper), headers=as_user)
    # No replica runs jobs yet: the answer has started (200, headers sent) and only spaces have come.
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    first = await asyncio.wait_for(response.content.read(1), 5)
    assert first == b" "
    await _replica(aiohttp_client, importer_env)  # a replica with a worker: it picks the job up
    body = (first + await asyncio.wait_for(response.content.read(), 60)).decode()
    assert body.startswith(" ") and body.strip().startswith("{")
    job = json.loads(body)
    assert (job["status"], job["imported"], job["failed"]) == ("completed", 3, 0)


async def test_past_the_wait_limit_the_200_answer_says_the_job_is_still_queued_with_its_status_url(
    aiohttp_client: Any,
    importer_env: dict[str, str],
    as_user: dict[str, str],
) -> None:
    api = await _replica(
        aiohttp_client,
        importer_env,
        IMPORTER_WORKER="false",
        IMPORT_WAIT_SECONDS="0.3",
        IMPORT_KEEPALIVE_SECONDS="0.05",
    )
    products_mapper = await create_products_mapper(api, as_user)  # no replica with a worker exists yet
    response = await api.post("/api/import", data=csv_form(_csv(), "products", products_mapper), headers=as_user)
    assert response.status == 200
    job = json.loads(await response.text())
    assert job["status"] == "queued" and job["statusUrl"] == f"/api/imports/{job['id']}" and job["imported"] == 0


async def test_prefer_respond_async_answers_202_with_the_status_url_at_once(
    aiohttp_client: Any,
    importer_env: dict[str, str],
    as_user: dict[str, str],
) -> None:
    api = await _replica(aiohttp_client, importer_env, IMPORTER_WORKER="false", IMPORT_WAIT_SECONDS="3600")
    products_mapper = await create_products_mapper(api, as_user)  # no replica with a worker exists yet
    response = await asyncio.wait_for(
        api.post(
            "/api/import",
            data=csv_form(_csv(), "products", products_mapper),
            headers={**as_user, "Prefer": "respond-async"},
        ),
        5,
    )
    assert response.status == 202
    body = await response.json()
    assert body["statusUrl"] == response.headers["Location"] == f"/api/imports/{body['id']}"
    assert response.headers["Preference-Applied"] == "respond-async"


async def test_a_retried_upload_with_the_same_idempotency_key_answers_the_first_job(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    csv = _csv()
    key = {"Idempotency-Key": f"sync-{tag()}"}
    first = await client.post(
        "/api/import", data=csv_form(csv, "products", products_mapper), headers={**as_user, **key}
    )
    retried = await client.post(
        "/api/import", data=csv_form(csv, "products", products_mapper), headers={**as_user, **key}
    )
    assert first.status == retried.status == 200
    one, two = await first.json(), await retried.json()
    assert two["id"] == one["id"] and (two["imported"], two["status"]) == (2, "completed")
    listed = await (await client.get("/api/imports?limit=200", headers=as_user)).json()
    assert [job["id"] for job in listed["value"]].count(one["id"]) == 1
    assert len(listed["value"]) == 1


async def test_idempotency_keys_are_scoped_per_owner(
    client: TestClient, sign: Callable[[Principal], dict[str, str]], products_mapper: str
) -> None:
    from tests.importer.conftest import everything, make_principal

    key = {"Idempotency-Key": f"shared-{tag()}"}
    ids = []
    for _ in range(2):
        owner = sign(make_principal(*everything()))
        response = await client.post(
            "/api/import", data=csv_form(_csv(), "products", products_mapper), headers={**owner, **key}
        )
        assert response.status == 200, await response.text()
        ids.append((await response.json())["id"])
    assert ids[0] != ids[1]


async def test_a_concurrent_retry_with_the_same_key_starts_no_second_job(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    key = {"Idempotency-Key": f"race-{tag()}"}
    csv = _csv()
    answers = await asyncio.gather(
        *(
            client.post("/api/import", data=csv_form(csv, "products", products_mapper), headers={**as_user, **key})
            for _ in range(2)
        )
    )
    assert [answer.status for answer in answers] == [200, 200]
    assert len({(await answer.json())["id"] for answer in answers}) == 1


async def test_a_malformed_idempotency_key_is_a_400(
    client: TestClient, as_user: dict[str, str], products_mapper: str
) -> None:
    for bad in ("", "x" * 256, "with space"):
        response = await client.post(
            "/api/import",
            data=csv_form(_csv(), "products", products_mapper),
            headers={**as_user, "Idempotency-Key": bad},
        )
        assert response.status == 400, bad
        assert (await response.json())["error"]["code"] == "invalid_idempotency_key"
