"""The shop methods a sync client uses, with Webasyst's names and parameters: search and paging, SKUs and images,
the category tree and list, customers, orders with items searched by state and date, and the writes."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest

from services.odata.apiphp.images import MAX_IMAGE_BYTES
from tests.apiphp.conftest import SHOP_RIGHTS, ApiPhpPlatform

WRITE_RIGHTS = SHOP_RIGHTS | {"products:create", "products:update", "products:delete", "orders:update"}


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
async def reader(apiphp_platform: ApiPhpPlatform) -> str:
    return await apiphp_platform.token()


@pytest.fixture
async def writer(apiphp_platform: ApiPhpPlatform) -> str:
    return await apiphp_platform.token(await apiphp_platform.user(WRITE_RIGHTS))


async def _get(platform: ApiPhpPlatform, token: str, method: str, **params: str) -> Any:
    response = await platform.call(f"/api.php/shop.{method}", params={"access_token": token, **params})
    assert response.status == 200, await response.text()
    return await response.json()


async def _post(platform: ApiPhpPlatform, token: str, method: str, data: Any, **params: str) -> aiohttp.ClientResponse:
    return await platform.call(
        f"/api.php/shop.{method}", "POST", data=data, params=params, headers={"Authorization": f"Bearer {token}"}
    )


async def test_product_search_takes_webasysts_hash_and_pages_with_offset_and_limit(
    apiphp_platform: ApiPhpPlatform, reader: str
) -> None:
    first = (await _get(apiphp_platform, reader, "product.getList", limit="1"))["products"][0]
    by_words = await _get(apiphp_platform, reader, "product.search", hash=f"search/query={first['sku']}")
    assert first["id"] in [product["id"] for product in by_words["products"]]
    category = await _get(
        apiphp_platform, reader, "product.search", hash=f"category/{first['category_id']}", limit="2", offset="1"
    )
    assert category["offset"] == 1 and category["limit"] == 2 and len(category["products"]) <= 2
    assert all(product["category_id"] == first["category_id"] for product in category["products"])
    cheap = await _get(apiphp_platform, reader, "product.search", hash="search/price<=10&count>0", limit="50")
    assert all(product["price"] <= 10 and product["stock"] > 0 for product in cheap["products"])
    bad = await apiphp_platform.call(
        "/api.php/shop.product.search", params={"access_token": reader, "hash": "search/password=1"}
    )
    assert bad.status == 400 and (await bad.json())["error"] == "invalid_param"


async def test_category_get_list_is_the_tree_flattened_with_parent_id_and_max_level(
    apiphp_platform: ApiPhpPlatform, reader: str
) -> None:
    tree = (await _get(apiphp_platform, reader, "category.getTree", parent_id="0", max_level="2"))["categories"]
    flat = (await _get(apiphp_platform, reader, "category.getList", parent_id="0", max_level="2"))["categories"]
    expected = [node["id"] for root in tree for node in (root, *root["categories"])]
    assert [node["id"] for node in flat] == expected
    assert {node["depth"] for node in flat} == {0, 1}


async def test_customer_search_finds_by_email_and_words(apiphp_platform: ApiPhpPlatform, reader: str) -> None:
    orders = (await _get(apiphp_platform, reader, "order.getList", limit="1"))["orders"]
    customer = await _get(apiphp_platform, reader, "customer.getInfo", id=str(orders[0]["customer_id"]))
    found = await _get(apiphp_platform, reader, "customer.search", hash=f"search/email={customer['email']}")
    assert [c["id"] for c in found["customers"]] == [customer["id"]] and found["count"] == 1
    by_words = await _get(apiphp_platform, reader, "customer.search", query=customer["email"].split("@")[0])
    assert customer["id"] in [c["id"] for c in by_words["customers"]]


async def test_order_search_by_state_and_date_answers_each_order_with_its_items(
    apiphp_platform: ApiPhpPlatform, reader: str
) -> None:
    everything = await _get(apiphp_platform, reader, "order.search", limit="1000")
    placed = sorted(order["placed_at"] for order in everything["orders"])
    middle = placed[len(placed) // 2]
    state = everything["orders"][0]["status"]
    found = await _get(
        apiphp_platform, reader, "order.search", hash=f"search/state_id={state}&create_datetime>={middle}"
    )
    expected = {o["id"] for o in everything["orders"] if o["status"] == state and o["placed_at"] >= middle}
    assert {order["id"] for order in found["orders"]} == expected and found["count"] == len(expected)
    assert all(item["order_id"] == order["id"] for order in found["orders"] for item in order["items"])
    assert any(order["items"] for order in everything["orders"])


async def test_product_add_update_and_delete_with_skus(apiphp_platform: ApiPhpPlatform, writer: str) -> None:
    added = await _post(
        apiphp_platform,
        writer,
        "product.add",
        {
            "name": "Sync lamp",
            "summary": "Added by a sync client",
            "skus[0][sku]": "SYNC-LAMP-1",
            "skus[0][price]": "19.90",
            "skus[0][count]": "7",
            "skus[1][sku]": "SYNC-LAMP-1-XL",
            "skus[1][name]": "XL",
            "skus[1][price]": "24.50",
        },
    )
    assert added.status == 200, await added.text()
    product = await added.json()
    assert (product["name"], product["sku"], product["price"], product["stock"]) == (
        "Sync lamp",
        "SYNC-LAMP-1",
        19.9,
        7,
    )
    assert [sku["sku"] for sku in product["skus"]] == ["SYNC-LAMP-1", "SYNC-LAMP-1-XL"]
    skus = await _get(apiphp_platform, writer, "product.skus.getList", product_id=str(product["id"]))
    assert [(sku["name"], sku["price"]) for sku in skus] == [("", 19.9), ("XL", 24.5)]
    updated = await _post(
        apiphp_platform, writer, "product.update", {"price": "21.00", "status": "0"}, id=str(product["id"])
    )
    assert updated.status == 200, await updated.text()
    assert (await updated.json())["price"] == 21.0 and (await updated.json())["active"] is False
    deleted = await _post(apiphp_platform, writer, "product.delete", {"id": str(product["id"])})
    assert deleted.status == 200 and await deleted.json() is True
    gone = await apiphp_platform.call(
        "/api.php/shop.product.getInfo", params={"access_token": writer, "id": str(product["id"])}
    )
    assert gone.status == 404


async def test_product_add_refuses_a_duplicate_sku_and_a_missing_name(
    apiphp_platform: ApiPhpPlatform, writer: str
) -> None:
    first = (await _get(apiphp_platform, writer, "product.getList", limit="1"))["products"][0]
    duplicate = await _post(apiphp_platform, writer, "product.add", {"name": "Twin", "sku": first["sku"]})
    assert duplicate.status == 400 and (await duplicate.json())["error"] == "invalid_param"
    nameless = await _post(apiphp_platform, writer, "product.add", {"sku": "NAMELESS-1"})
    assert nameless.status == 400
    assert await nameless.json() == {
        "error": "invalid_param",
        "error_description": "Required parameter is missing: “name”.",
    }


async def test_a_product_in_orders_is_not_deleted(apiphp_platform: ApiPhpPlatform, writer: str) -> None:
    order = (await _get(apiphp_platform, writer, "order.search", limit="1"))["orders"][0]
    product_id = order["items"][0]["product_id"]
    refused = await _post(apiphp_platform, writer, "product.delete", {"id": str(product_id)})
    assert refused.status == 400 and (await refused.json())["error"] == "invalid_param"
    assert (await _get(apiphp_platform, writer, "product.getInfo", id=str(product_id)))["id"] == product_id


async def test_product_images_add_takes_a_multipart_file_and_reads_its_type_and_size(
    apiphp_platform: ApiPhpPlatform, writer: str
) -> None:
    product = (await _get(apiphp_platform, writer, "product.getList", limit="1"))["products"][0]
    form = aiohttp.FormData()
    form.add_field("product_id", str(product["id"]))
    form.add_field("description", "Front view")
    form.add_field("file", png(3, 2), filename="front.jpg", content_type="application/octet-stream")
    added = await _post(apiphp_platform, writer, "product.images.add", form)
    assert added.status == 200, await added.text()
    image = await added.json()
    assert (image["content_type"], image["width"], image["height"]) == ("image/png", 3, 2)
    assert image["original_filename"] == "front.jpg" and image["description"] == "Front view"
    listed = await apiphp_platform.call(
        "/api.php/shop.product.images.getList",
        params={"access_token": writer, "product_id": str(product["id"]), "format": "xml"},
    )
    root = ElementTree.fromstring(await listed.read())  # noqa: S314 - our own service's answer
    assert str(image["id"]) in [element.findtext("id") for element in root.findall("image")]


async def test_product_images_add_refuses_what_is_not_an_accepted_image(
    apiphp_platform: ApiPhpPlatform, writer: str
) -> None:
    product = (await _get(apiphp_platform, writer, "product.getList", limit="1"))["products"][0]
    form = aiohttp.FormData()
    form.add_field("product_id", str(product["id"]))
    form.add_field("file", b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="x.png", content_type="image/png")
    refused = await _post(apiphp_platform, writer, "product.images.add", form)
    assert refused.status == 400 and (await refused.json())["error"] == "invalid_param"
    huge = aiohttp.FormData()
    huge.add_field("product_id", str(product["id"]))
    huge.add_field("file", io.BytesIO(png(1, 1) + b"\x00" * MAX_IMAGE_BYTES), filename="huge.png")
    too_large = await _post(apiphp_platform, writer, "product.images.add", huge)
    assert too_large.status == 413 and (await too_large.json())["error"] == "invalid_request"


async def test_order_action_moves_the_order_through_the_workflow(apiphp_platform: ApiPhpPlatform, writer: str) -> None:
    order = (await _get(apiphp_platform, writer, "order.search", hash="search/state_id=new", limit="1"))["orders"][0]
    paid = await _post(apiphp_platform, writer, "order.action", {"id": str(order["id"]), "action": "pay"})
    assert paid.status == 200, await paid.text()
    assert (await paid.json())["status"] == "paid" and (await paid.json())["items"]
    again = await _post(apiphp_platform, writer, "order.action", {"id": str(order["id"]), "action": "pay"})
    assert again.status == 404
    assert await again.json() == {
        "error": "invalid_param",
        "error_description": "Available action not found for the specified order",
    }


async def test_writes_need_the_users_write_permission(apiphp_platform: ApiPhpPlatform, reader: str) -> None:
    for method, data in (
        ("product.add", {"name": "x", "sku": "NO-RIGHT-1"}),
        ("product.update", {"id": "1", "name": "x"}),
        ("order.action", {"id": "1", "action": "pay"}),
    ):
        response = await _post(apiphp_platform, reader, method, data)
        assert response.status == 403, method
        assert (await response.json())["error"] == "access_denied"
