from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed
from tests.odata.helpers import get_json


@pytest.mark.parametrize(
    ("params", "target", "fragment"),
    [
        ({"$filter": "stock eq"}, "$filter", "at the end"),
        ({"$filter": "stock eq 'x'"}, "$filter", "position 7"),
        ({"$filter": "nosuch eq 1"}, "$filter", "no property 'nosuch'"),
        ({"$filter": "stock eq 1 )"}, "$filter", "position 12"),
        ({"$filter": "stock frob 1"}, "$filter", "Unknown operator"),
        ({"$filter": "stock eq #"}, "$filter", "Unexpected character"),
        ({"$filter": "name eq 'open"}, "$filter", "Unexpected character"),
        ({"$filter": "stock"}, "$filter", "true or false"),
        ({"$filter": "contains(name)"}, "$filter", "takes 2"),
        ({"$filter": "frobnicate(name)"}, "$filter", "Unknown function"),
        ({"$filter": "stock add 'a' eq 1"}, "$filter", "needs numbers"),
        ({"$filter": "stock in (1, 'a')"}, "$filter", "'in' list"),
        ({"$filter": "stock eq @p", "@p": "'x'"}, "$filter", "Cannot compare"),
        ({"$filter": "stock eq 99999999999999999999"}, "$filter", "too large"),
        ({"$filter": "created_at eq 2020-13-45"}, "$filter", "Malformed date"),
        ({"$filter": "(" * 40 + "true" + ")" * 40}, "$filter", "deeper than"),
        ({"$filter": "substring(name, 0, -1) eq 'a'"}, "$filter", "0 or more"),
        ({"$filter": "substring(name, -2) eq 'a'"}, "$filter", "0 or more"),
        ({"$filter": "substring(name, 0, stock sub 99999) eq 'a'"}, "query", "cannot be evaluated"),
        ({"$filter": "stock eq 1" + " or stock eq 1" * 400}, "$filter", "longer than"),
        ({"$filter": ""}, "$filter", "empty"),
        ({"$select": "id,nosuch"}, "$select/nosuch", "no property"),
        ({"$orderby": "description"}, "$orderby/description", "not sortable"),
        ({"$orderby": "nosuch desc"}, "$orderby", "no property"),
        ({"$orderby": "stock sideways"}, "$orderby", "Unknown operator"),
        ({"$top": "-1"}, "$top", "non-negative"),
        ({"$top": "ten"}, "$top", "non-negative"),
        ({"$skip": "99999999999"}, "$skip", "at most"),
        ({"$count": "yes"}, "$count", "true or false"),
        ({"$frobnicate": "1"}, "$frobnicate", "Unknown system query option"),
        ({"$expand": "nosuch"}, "$expand/nosuch", "navigation property"),
        ({"$expand": "category($select=nosuch)"}, "$expand/category/$select/nosuch", "no property"),
        ({"$search": '"open'}, "$search", "Unterminated"),
        ({"$expand": "category($filter=id eq 1)"}, "$expand/category/$filter", "collection navigation"),
        ({"$expand": "order_items($top=x)"}, "$expand/order_items/$top", "non-negative"),
        ({"$expand": "order_items($filter=quantity eq 'a')"}, "$expand/order_items/$filter", "Cannot compare"),
        ({"$expand": "order_items($orderby=nosuch)"}, "$expand/order_items/$orderby", "no property"),
        ({"$expand": "order_items($filter=contains(x,')'"}, "$expand", "Unbalanced"),
    ],
)
async def test_bad_query_is_400_pointing_at_the_offending_part(
    client: TestClient, auth: dict[str, str], params: dict[str, str], target: str, fragment: str
) -> None:
    body = await get_json(client, "/odata/products", auth, status=400, **params)
    assert body["error"]["target"] == target
    assert fragment in body["error"]["message"]
    assert body["error"]["code"]


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/odata/products", {"$apply": "topcount(2, price)"}),
        ("/odata/products", {"$filter": "stock has 1"}),
        ("/odata/products", {"$filter": "matchespattern(name, 'x')"}),
        ("/odata/products", {"$expand": "category($levels=2)"}),
        ("/odata/products", {"$expand": "*($levels=2)"}),
        ("/odata/products", {"$select": "category"}),
        ("/odata/products", {"$format": "xml"}),
        ("/odata/products", {"$compute": "price mul 2 as Double"}),
        ("/odata/products(1)/name", {}),
        ("/odata/products/$ref", {}),
    ],
)
async def test_unsupported_features_answer_501(
    client: TestClient, auth: dict[str, str], url: str, params: dict[str, str]
) -> None:
    body = await get_json(client, url, auth, status=501, **params)
    assert body["error"]["code"] == "not_implemented"


async def test_unknown_entity_set_is_404(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/widgets", auth, status=404)
    assert body["error"]["code"] == "not_found"


async def test_options_not_applying_to_a_single_entity_are_400(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(client, f"/odata/products({seed.product_ids[0]})", auth, status=400, **{"$top": "1"})
    assert body["error"]["target"] == "$top"


async def test_overflowing_arithmetic_is_400_not_an_sql_error(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    body = await get_json(
        client,
        "/odata/products",
        auth,
        status=400,
        **{"$filter": f"{seed.where()} and stock mul 9223372036854775807 mul 9 gt 1"},
    )
    assert body["error"]["code"] == "query_not_evaluable"
    assert "SELECT" not in body["error"]["message"]


async def test_overlong_query_string_is_400(client: TestClient, auth: dict[str, str]) -> None:
    body = await get_json(client, "/odata/products", auth, status=400, **{"@p": "x" * 8050})
    assert body["error"]["target"] == "query"


async def test_a_repeated_query_option_is_400(client: TestClient, auth: dict[str, str]) -> None:
    response = await client.get("/odata/products?$top=1&$top=2", headers=auth)
    assert response.status == 400
    assert (await response.json())["error"]["target"] == "$top"


async def test_a_query_over_the_statement_timeout_is_a_clear_503(database_url: str) -> None:
    from services.odata import db
    from shared.db import open_pool

    async with open_pool(database_url, statement_timeout_ms=50) as pool, pool.acquire() as conn:
        with pytest.raises(db.QueryTimeout) as caught:
            await db.fetch(conn, "SELECT pg_sleep(1)", [])
    assert caught.value.status == 503 and "$filter" in caught.value.message
