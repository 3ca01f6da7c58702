"""Seed 000, part 2: calling api.php methods through the gateway with the token in each place it may travel."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import aiohttp
import pytest

from services.gateway.credentials import MAX_FORM_CREDENTIAL_BYTES
from services.odata.apiphp.handlers import MAX_MULTIPART_BYTES
from tests.apiphp.conftest import ApiPhpPlatform


@pytest.fixture
async def token(apiphp_platform: ApiPhpPlatform) -> str:
    return await apiphp_platform.token()


async def _first_product(platform: ApiPhpPlatform, token: str) -> dict[str, object]:
    response = await platform.call("/api.php/shop.product.getList", params={"access_token": token, "limit": "1"})
    assert response.status == 200, await response.text()
    return (await response.json())["products"][0]


async def test_product_get_info_answers_json_with_the_token_in_the_query(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    product = await _first_product(apiphp_platform, token)
    response = await apiphp_platform.call(
        "/api.php/shop.product.getInfo", params={"id": str(product["id"]), "access_token": token}
    )
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert {name: body[name] for name in product} == product
    assert {"id", "sku", "name", "price", "stock", "category_id"} <= set(body)


async def test_product_get_info_answers_a_well_formed_xml_response_mirroring_the_json(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    product = await _first_product(apiphp_platform, token)
    response = await apiphp_platform.call(
        "/api.php/shop.product.getInfo", params={"id": str(product["id"]), "access_token": token, "format": "xml"}
    )
    assert response.status == 200 and response.content_type == "text/xml"
    root = ElementTree.fromstring(await response.read())  # noqa: S314 - our own service's answer
    assert root.tag == "response"
    assert root.findtext("id") == str(product["id"])
    assert root.findtext("name") == product["name"]
    assert root.findtext("sku") == product["sku"]


async def test_the_token_is_accepted_as_a_post_field_urlencoded_or_multipart(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    product = await _first_product(apiphp_platform, token)
    urlencoded = await apiphp_platform.call(
        "/api.php/shop.product.getInfo", "POST", data={"id": str(product["id"]), "access_token": token}
    )
    assert urlencoded.status == 200, await urlencoded.text()
    assert (await urlencoded.json())["id"] == product["id"]
    form = aiohttp.FormData()
    form.add_field("access_token", token)
    form.add_field("id", str(product["id"]))
    form.add_field("note", b"binary \x00 part", filename="note.bin", content_type="application/octet-stream")
    multipart = await apiphp_platform.call("/api.php/shop.product.getInfo", "POST", data=form)
    assert multipart.status == 200, await multipart.text()
    assert (await multipart.json())["id"] == product["id"]


async def test_the_token_is_accepted_as_a_bearer_header_on_both_path_forms(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    product = await _first_product(apiphp_platform, token)
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api.php/shop.product.getInfo/", "/api.php/shop/product.getInfo", "/api.php/shop.product.getinfo"):
        response = await apiphp_platform.call(path, params={"id": str(product["id"])}, headers=headers)
        assert response.status == 200, (path, await response.text())
        assert (await response.json())["id"] == product["id"]
    by_query = await apiphp_platform.call(
        "/api.php", params={"app": "shop", "method": "product.getInfo", "id": str(product["id"])}, headers=headers
    )
    assert by_query.status == 200


async def test_two_tokens_in_one_request_are_an_invalid_request(apiphp_platform: ApiPhpPlatform, token: str) -> None:
    response = await apiphp_platform.call(
        "/api.php/shop.product.getList", params={"access_token": token}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_request"


async def test_a_missing_token_is_token_required_and_an_unknown_one_invalid_token(
    apiphp_platform: ApiPhpPlatform,
) -> None:
    missing = await apiphp_platform.call("/api.php/shop.product.getInfo", params={"id": "1"})
    assert missing.status == 400
    assert await missing.json() == {"error": "token_required", "error_description": "Access token is missing"}
    unknown = await apiphp_platform.call("/api.php/shop.product.getInfo", params={"id": "1", "access_token": "f" * 32})
    assert unknown.status == 401
    assert (await unknown.json())["error"] == "invalid_token"
    assert 'error="invalid_token"' in unknown.headers["WWW-Authenticate"]
    as_xml = await apiphp_platform.call("/api.php/shop.product.getInfo", params={"id": "1", "format": "xml"})
    root = ElementTree.fromstring(await as_xml.read())  # noqa: S314 - our own service's answer
    assert root.tag == "response" and root.findtext("error") == "token_required"


async def test_an_unknown_method_is_invalid_method(apiphp_platform: ApiPhpPlatform, token: str) -> None:
    unknown = await apiphp_platform.call("/api.php/shop.product.explode", params={"access_token": token})
    assert unknown.status == 404
    assert await unknown.json() == {
        "error": "invalid_method",
        "error_description": "Unknown method: shop.product.explode",
    }
    other_app = await apiphp_platform.call("/api.php/stickies.sheet.getList", params={"access_token": token})
    assert other_app.status == 400
    assert await other_app.json() == {
        "error": "app_not_installed",
        "app": "stickies",
        "error_description": "App is not installed (stickies)",
    }


async def test_a_missing_or_malformed_id_is_invalid_param_with_a_description(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    missing = await apiphp_platform.call("/api.php/shop.product.getInfo", params={"access_token": token})
    assert missing.status == 400
    assert await missing.json() == {
        "error": "invalid_param",
        "error_description": "Required parameter is missing: “id”.",
    }
    malformed = await apiphp_platform.call("/api.php/shop.product.getInfo", params={"access_token": token, "id": "4'"})
    assert malformed.status == 400
    assert (await malformed.json())["error"] == "invalid_param"
    assert "Invalid value of parameter “id”" in (await malformed.json())["error_description"]
    absent = await apiphp_platform.call(
        "/api.php/shop.product.getInfo", params={"access_token": token, "id": str(2**62)}
    )
    assert absent.status == 404, await absent.text()
    assert await absent.json() == {
        "error": "invalid_param",
        "error_description": "Product not found",
    }
    path = await apiphp_platform.call("/api.php/a/b/c", params={"access_token": token})
    assert path.status == 400 and (await path.json())["error"] == "invalid_request"
    fmt = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token, "format": "csv"})
    assert fmt.status == 400
    assert await fmt.json() == {"error": "invalid_request", "error_description": "Invalid response format: csv"}


async def test_a_token_without_the_shop_scope_is_access_denied(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user()
    other = await apiphp_platform.issue_token_directly(user, ["blog"])
    response = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": other})
    assert response.status == 403
    assert (await response.json())["error"] == "access_denied"


async def test_an_api_key_carries_no_app_scope_and_is_access_denied(
    apiphp_platform: ApiPhpPlatform, admin_api_key: str
) -> None:
    response = await apiphp_platform.call("/api.php/shop.product.getList", headers={"X-API-Key": admin_api_key})
    assert response.status == 403 and (await response.json())["error"] == "access_denied"


async def test_the_users_permissions_narrow_what_the_token_may_call(apiphp_platform: ApiPhpPlatform) -> None:
    token = await apiphp_platform.token(await apiphp_platform.user(frozenset({"products:read"})))
    products = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token})
    assert products.status == 200
    for method in ("shop.customer.getInfo", "shop.order.getList", "shop.category.getTree"):
        response = await apiphp_platform.call(f"/api.php/{method}", params={"access_token": token, "id": "1"})
        assert response.status == 403, method
        assert (await response.json())["error"] == "access_denied"


async def test_product_get_list_pages_with_offset_and_a_bounded_limit(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    first = await apiphp_platform.call(
        "/api.php/shop.product.getList", params={"access_token": token, "offset": "0", "limit": "3"}
    )
    second = await apiphp_platform.call(
        "/api.php/shop.product.getList", params={"access_token": token, "offset": "3", "limit": "3"}
    )
    one, two = await first.json(), await second.json()
    assert one["offset"] == 0 and one["limit"] == 3 and len(one["products"]) == 3 and one["count"] >= 6
    assert {p["id"] for p in one["products"]}.isdisjoint({p["id"] for p in two["products"]})
    too_many = await apiphp_platform.call(
        "/api.php/shop.product.getList", params={"access_token": token, "limit": "100000"}
    )
    assert too_many.status == 400 and (await too_many.json())["error"] == "invalid_param"


async def test_product_search_matches_every_word(apiphp_platform: ApiPhpPlatform, token: str) -> None:
    product = await _first_product(apiphp_platform, token)
    response = await apiphp_platform.call(
        "/api.php/shop.product.search", params={"access_token": token, "query": str(product["sku"])}
    )
    body = await response.json()
    assert response.status == 200 and product["id"] in [p["id"] for p in body["products"]]
    nothing = await apiphp_platform.call(
        "/api.php/shop.product.search", params={"access_token": token, "query": "zz-no-such-word-zz"}
    )
    assert (await nothing.json())["count"] == 0
    everything = await apiphp_platform.call("/api.php/shop.product.search", params={"access_token": token})
    assert everything.status == 200 and (await everything.json())["count"] >= body["count"]


async def test_category_get_tree_nests_children_and_stops_at_max_level(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    full = await apiphp_platform.call("/api.php/shop.category.getTree", params={"access_token": token})
    tree = (await full.json())["categories"]
    assert tree and all(node["parent_id"] is None and node["depth"] == 0 for node in tree)
    nested = [child for node in tree for child in node["categories"]]
    assert nested and all(child["depth"] == 1 for child in nested)
    flat = await apiphp_platform.call(
        "/api.php/shop.category.getTree", params={"access_token": token, "max_level": "1"}
    )
    assert all(node["categories"] == [] for node in (await flat.json())["categories"])
    parent = nested[0]["parent_id"]
    below = await apiphp_platform.call(
        "/api.php/shop.category.getTree", params={"access_token": token, "parent_id": str(parent), "format": "xml"}
    )
    root = ElementTree.fromstring(await below.read())  # noqa: S314 - our own service's answer
    assert [element.findtext("parent_id") for element in root.findall("categories/category")] == [str(parent)] * len(
        root.findall("categories/category")
    )
    info = await apiphp_platform.call(
        "/api.php/shop.category.getInfo", params={"access_token": token, "id": str(parent)}
    )
    assert (await info.json())["id"] == parent


async def test_orders_and_customers_are_read_with_their_items(apiphp_platform: ApiPhpPlatform, token: str) -> None:
    orders = await apiphp_platform.call("/api.php/shop.order.getList", params={"access_token": token, "limit": "2"})
    listed = (await orders.json())["orders"]
    assert listed
    order = await apiphp_platform.call(
        "/api.php/shop.order.getInfo", params={"access_token": token, "id": str(listed[0]["id"])}
    )
    body = await order.json()
    assert body["number"] == listed[0]["number"]
    assert body["items"] and all(item["order_id"] == body["id"] for item in body["items"])
    customer = await apiphp_platform.call(
        "/api.php/shop.customer.getInfo", params={"access_token": token, "id": str(body["customer_id"])}
    )
    assert (await customer.json())["id"] == body["customer_id"]
    by_status = await apiphp_platform.call(
        "/api.php/shop.order.getList", params={"access_token": token, "status": "nonsense"}
    )
    assert by_status.status == 400


async def test_a_form_body_over_the_buffer_limit_is_not_read_for_a_token(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    big = {"access_token": token, "padding": "x" * (MAX_FORM_CREDENTIAL_BYTES + 1)}
    response = await apiphp_platform.call("/api.php/shop.product.getList", "POST", data=big)
    assert response.status == 400
    assert (await response.json())["error"] == "token_required"
    # A larger upload streams on untouched; its token travels in the header.
    upload = aiohttp.FormData()
    upload.add_field("limit", "1")
    upload.add_field("file", b"\x00" * (MAX_FORM_CREDENTIAL_BYTES + 1), filename="big.bin")
    with_header = await apiphp_platform.call(
        "/api.php/shop.product.getList", "POST", data=upload, headers={"Authorization": f"Bearer {token}"}
    )
    assert with_header.status == 200, await with_header.text()
    assert len((await with_header.json())["products"]) == 1


async def test_an_oversized_upload_is_refused_in_the_api_php_format(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    upload = aiohttp.FormData()
    upload.add_field("file", io.BytesIO(b"\x00" * (MAX_MULTIPART_BYTES + 1)), filename="huge.bin")
    response = await apiphp_platform.call(
        "/api.php/shop.product.getList", "POST", data=upload, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 413
    assert (await response.json())["error"] == "invalid_request"
