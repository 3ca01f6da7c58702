"""Events from the services that own the facts: an import's end and the products it touched (the importer), an API
key created (the auth service, through its outbox), each delivered to a receiver."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from services.auth import api_keys
from services.auth.keys import CONTEXT
from services.importer.app import create_app as create_importer
from services.importer.config import Config as ImporterConfig
from shared.platform_events import ProductsCreated, product_events
from shared.principal import Principal
from tests.importer.conftest import create_products_mapper, csv_form, tag
from tests.webhooks.conftest import AuthService, Receiver, subscribe

Sign = Callable[[Principal], dict[str, str]]
IMPORT_RIGHTS = (
    "imports:read",
    "imports:create",
    "mappers:read",
    "mappers:create",
    "products:read",
    "products:create",
    "products:update",
)


async def test_one_import_gives_exactly_one_import_completed_with_its_counts(
    aiohttp_client: Any,
    base_env: dict[str, str],
    webhooks: TestClient,
    auth_service: AuthService,
    sign: Sign,
    receiver: Receiver,
) -> None:
    importer = await aiohttp_client(create_importer(ImporterConfig.from_env({**base_env, "BATCH_ROWS": "2"})))
    user = await auth_service.user(*IMPORT_RIGHTS)
    created = await subscribe(
        webhooks, sign(user), receiver.url, ["import.completed", "import.failed", "product.created", "product.updated"]
    )
    mapper_id = await create_products_mapper(importer, sign(user, "importer"))
    prefix = tag()
    first = f"sku;name;price\n{prefix}-1;One;1,00\n{prefix}-2;Two;2,00\n"
    response = await importer.post(
        "/api/import", data=csv_form(first, "products", mapper_id), headers=sign(user, "importer")
    )
    assert (await response.json())["status"] == "completed"
    second = f"sku;name;price\n{prefix}-2;Two again;2,50\n{prefix}-3;Three;3,00\n{prefix}-4;Four;-1\n"
    response = await importer.post(
        "/api/import", data=csv_form(second, "products", mapper_id), headers=sign(user, "importer")
    )
    job = await response.json()
    assert job["status"] == "completed"

    async def completed_for_job() -> list[Any]:
        while True:
            arrivals = [a.verified(created["secret"]) for a in receiver.of_type("import.completed")]
            mine = [payload for payload in arrivals if payload["data"]["job_id"] == job["id"]]
            if mine:
                return mine
            await asyncio.sleep(0.05)

    (payload,) = await asyncio.wait_for(completed_for_job(), 20)
    assert payload["data"] == {
        "job_id": job["id"],
        "entity": "products",
        "imported": 1,
        "updated": 1,
        "failed": 1,
        "status_url": f"/api/imports/{job['id']}",
    }
    await asyncio.sleep(1.0)
    completed = [a.verified(created["secret"]) for a in receiver.of_type("import.completed")]
    assert [p["data"]["job_id"] for p in completed].count(job["id"]) == 1
    changes = {
        (p["type"], p["data"]["job_id"]): p["data"]["ids"]
        for p in (a.verified(created["secret"]) for a in receiver.arrivals)
        if p["type"].startswith("product.")
    }
    assert len(changes[("product.created", job["id"])]) == 1
    assert changes[("product.updated", job["id"])] != changes[("product.created", job["id"])]
    assert len(changes[("product.updated", job["id"])]) == 1


async def test_creating_an_api_key_reaches_the_owners_receiver_through_the_auth_outbox(
    webhooks: TestClient, auth_service: AuthService, sign: Sign, receiver: Receiver
) -> None:
    user = await auth_service.user("api_keys:read", "api_keys:create")
    created = await subscribe(webhooks, sign(user), receiver.url, ["api_key.created"])
    key = await api_keys.create_key(
        auth_service.app[CONTEXT], user, name="from the outbox", expires_at=None, scope=None
    )
    (arrival,) = await receiver.wait_for(1)
    payload = arrival.verified(created["secret"])
    assert payload["type"] == "api_key.created"
    assert payload["data"]["key_id"] == key["id"] and payload["data"]["name"] == "from the outbox"
    assert payload["data"]["user_id"] == user.user_id and "key" not in payload["data"]


def test_a_large_import_is_announced_in_events_of_at_most_a_thousand_ids() -> None:
    events = product_events(ProductsCreated, list(range(2500)), job_id="job-1", occurred_at="2026-01-01T00:00:00Z")
    assert [len(event.ids) for event in events] == [1000, 1000, 500]
    assert [(event.part, event.parts) for event in events] == [(1, 3), (2, 3), (3, 3)]
    assert [event.event_id for event in events] == [f"product.created:job-1:{n}" for n in (1, 2, 3)]
    assert [n for event in events for n in event.ids] == list(range(2500))
    assert product_events(ProductsCreated, [], job_id="job-1", occurred_at="2026-01-01T00:00:00Z") == []
