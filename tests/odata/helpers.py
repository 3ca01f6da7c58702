from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed


async def get_json(client: TestClient, url: str, headers: dict[str, str], status: int = 200, **params: str) -> Any:
    response = await client.get(url, headers=headers, params=params or None)
    body = await response.json()
    assert response.status == status, body
    return body


async def matching(client: TestClient, auth: dict[str, str], seed: Seed, expression: str, **params: str) -> list[int]:
    """The seed product indexes matched by a $filter expression (combined with the seed's own prefix filter)."""
    body = await get_json(
        client,
        "/odata/products",
        auth,
        **{"$filter": f"{seed.where()} and ({expression})", "$orderby": "sku", "$top": "50", **params},
    )
    return [int(entity["sku"].rsplit("-", 1)[1]) for entity in body["value"]]
