"""OData 4.01 request conventions: system query options without `$` and in any case, case-insensitive operators
and functions, Accept and OData-MaxVersion honoured or the request failed, modification refused with 501."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed
from tests.odata.helpers import get_json


async def skus(client: TestClient, auth: dict[str, str], params: dict[str, str]) -> list[str]:
    body = await get_json(client, "/odata/products", auth, **params)
    return [entity["sku"] for entity in body["value"]]


async def test_options_without_dollar_and_in_any_case_mean_the_same(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    canonical = {"$filter": seed.where(), "$orderby": "stock desc", "$top": "3", "$select": "sku"}
    loose = {"filter": seed.where(), "$OrderBy": "stock desc", "TOP": "3", "Select": "sku"}
    assert (
        await skus(client, auth, loose)
        == await skus(client, auth, canonical)
        == [
            f"{seed.prefix}-09",
            f"{seed.prefix}-08",
            f"{seed.prefix}-07",
        ]
    )


async def test_an_option_given_with_and_without_dollar_is_given_twice(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/products?top=1&$top=2", auth, status=400)
    assert body["error"]["target"] == "$top"


async def test_operators_and_functions_are_case_insensitive(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    expression = f"STARTSWITH(sku,'{seed.prefix}') AND stock GT 7 AND Not (ToLower(name) Eq 'x')"
    assert await skus(client, auth, {"$filter": expression, "$orderby": "sku DESC"}) == [
        f"{seed.prefix}-09",
        f"{seed.prefix}-08",
    ]


@pytest.mark.parametrize(
    ("url", "accept", "status"),
    [
        ("/odata/products?$top=1", "application/json;odata.metadata=minimal", 200),
        ("/odata/products?$top=1", "text/html, */*;q=0.1", 200),
        ("/odata/products?$top=1", "application/*", 200),
        ("/odata/products?$top=1", "application/xml", 406),
        ("/odata/products?$top=1", "application/xml, application/json;q=0", 406),
        ("/odata/$metadata", "application/xml", 200),
        ("/odata/$metadata", "application/json", 406),
        ("/odata/", "text/csv", 406),
    ],
)
async def test_accept_is_honoured_or_the_request_fails(
    client: TestClient, auth: dict[str, str], url: str, accept: str, status: int
) -> None:
    response = await client.get(url, headers={**auth, "Accept": accept})
    assert response.status == status


@pytest.mark.parametrize(("version", "status"), [("4.0", 200), ("4.01", 200), ("3.0", 400), ("four", 400)])
async def test_odata_max_version_below_4_fails_the_request(
    client: TestClient, auth: dict[str, str], version: str, status: int
) -> None:
    response = await client.get("/odata/products?$top=1", headers={**auth, "OData-MaxVersion": version})
    assert response.status == status


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_modification_is_501_on_the_read_only_service(
    client: TestClient, auth: dict[str, str], method: str
) -> None:
    response = await client.request(method, "/odata/products(1)", headers=auth)
    assert response.status == 501
    assert (await response.json())["error"]["code"] == "not_implemented"


async def test_modification_still_needs_a_principal(client: TestClient) -> None:
    response = await client.post("/odata/products")
    assert response.status == 401
