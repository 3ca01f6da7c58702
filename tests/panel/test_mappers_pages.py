"""The Mappers pages in a real browser: create and edit with a preview on the first lines of a CSV (the importer's
own conversions), the owner rule, delete; each ends with GET /api/mappers/{id} saying the same."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.panel.conftest import signed_in
from tests.panel.importer_stack import ImportStack, browser_page, products_mapper, running_stack

pytestmark = pytest.mark.asyncio(loop_scope="package")

MAPPER_RIGHTS = {"mappers:read", "mappers:create", "mappers:update", "mappers:delete"}
SAMPLE = "sku;name;price;colour\nL-1;Desk lamp;12,50;red\nL-2;Floor lamp;cheap;blue\n;No sku;3,00;green\n"


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def stack(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> AsyncIterator[ImportStack]:
    async with running_stack(database_url, amqp_url, bus_prefix, signing_key) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="package")
async def page(browser: Any, stack: ImportStack) -> AsyncIterator[Any]:
    async with browser_page(browser, stack) as opened:
        yield opened


async def _new_products_form(page: Any) -> None:
    await page.goto("/panel/mappers")
    await page.click("text=New mapper")
    await page.select_option("#entity", "products")
    await page.click("button:has-text('Continue')")
    await page.wait_for_selector("#mapper-name")


async def _fill_products(page: Any, mapper_id: str, name: str) -> None:
    await page.fill("#mapper-id", mapper_id)
    await page.fill("#mapper-name", name)
    await page.select_option("#delimiter", "semicolon")
    await page.select_option("[id='price.decimal_separator']", ",")
    for unused in ("description", "stock", "category_id", "active"):
        await page.fill(f"[id='{unused}.column']", "")


async def _mapper(stack: ImportStack, user: dict[str, Any], mapper_id: str) -> tuple[int, Any]:
    return await stack.api("importer", user, "GET", f"/api/mappers/{mapper_id}")


async def test_a_mapper_made_on_the_page_is_returned_by_the_api(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    await signed_in(page, stack.panel, user, "/panel/mappers")
    mapper_id = f"lamps-{secrets.token_hex(3)}"
    await _new_products_form(page)
    await _fill_products(page, mapper_id, "Lamp supplier")
    await page.check("[name='sku.required']")
    await page.click("button:has-text('Save mapper')")
    await page.wait_for_url(re.compile(rf"/panel/mappers/{mapper_id}\?done=saved$"))
    assert "The mapper was saved." in await page.inner_text("main")
    status, mapper = await _mapper(stack, user, mapper_id)
    assert status == 200
    assert (mapper["name"], mapper["entity"], mapper["owner"]) == ("Lamp supplier", "products", f"user:{user['id']}")
    definition = mapper["definition"]
    assert (definition["delimiter"], definition["key"], definition["header"]) == (";", "sku", True)
    assert definition["columns"] == [
        {"column": "sku", "field": "sku", "required": True},
        {"column": "name", "field": "name"},
        {"column": "price", "field": "price", "decimalSeparator": ","},
    ]


async def test_the_preview_shows_each_columns_mapping_conversions_and_failing_rows_before_saving(
    page: Any, stack: ImportStack
) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    await signed_in(page, stack.panel, user, "/panel/mappers")
    mapper_id = f"preview-{secrets.token_hex(3)}"
    await _new_products_form(page)
    await _fill_products(page, mapper_id, "Tried first")
    await page.fill("#sample", SAMPLE)
    await page.click("button:has-text('Preview')")
    await page.wait_for_selector("#preview")
    preview = await page.inner_text("#preview")
    assert "3 rows read: 1 would be imported, 2 would fail." in preview
    assert "Columns no field reads (ignored): colour" in preview
    mapping = page.locator("#preview table").first
    assert "column 3" in await mapping.locator("tr", has_text="price").inner_text()
    rows = page.locator("table.preview-rows tbody tr")
    first, second, third = [await rows.nth(n).locator("th, td").all_inner_texts() for n in range(3)]
    assert first == ["2", "Would be imported", "L-1", "Desk lamp", "12.50"]
    assert second[:2] == ["3", "Would fail: price: not a decimal number"]
    assert second[4] == "cheap → not a decimal number"
    assert third[:2] == ["4", "Would fail: sku: a value is required"]
    assert await page.input_value("#mapper-name") == "Tried first"  # the form comes back as typed
    assert await page.input_value("#sample") == SAMPLE
    status, _ = await _mapper(stack, user, mapper_id)
    assert status == 404  # nothing saved yet
    await page.click("button:has-text('Save mapper')")
    await page.wait_for_url(re.compile(rf"/panel/mappers/{mapper_id}\?done=saved$"))
    status, mapper = await _mapper(stack, user, mapper_id)
    assert (status, mapper["name"]) == (200, "Tried first")


async def test_a_chosen_files_first_lines_are_previewed(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = await products_mapper(stack, user)
    await signed_in(page, stack.panel, user, f"/panel/mappers/{mapper_id}")
    rows = "".join(f"F-{n};Lamp {n};{n},25\n" for n in range(120))
    csv = ("sku;name;price\n" + rows).encode()
    await page.set_input_files("#sample_file", {"name": "big.csv", "mimeType": "text/csv", "buffer": csv})
    await page.click("button:has-text('Preview')")
    await page.wait_for_selector("#preview")
    assert "50 rows read (the first 50; the sample holds more): 50 would be imported, 0 would fail." in (
        await page.inner_text("#preview")
    )
    assert (await page.input_value("#sample")).startswith("sku;name;price\nF-0;Lamp 0;0,25\n")
    status, mapper = await _mapper(stack, user, mapper_id)
    assert (status, mapper["name"]) == (200, "Panel test products")


async def test_an_owner_edits_their_mapper(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = await products_mapper(stack, user)
    await signed_in(page, stack.panel, user, "/panel/mappers")
    await page.click(f"a:has-text('{mapper_id}')")
    await page.fill("#mapper-name", "Renamed")
    await page.fill("[id='stock.column']", "qty")
    await page.fill("[id='stock.default']", "0")
    await page.click("button:has-text('Save mapper')")
    await page.wait_for_selector("text=The mapper was saved.")
    _, mapper = await _mapper(stack, user, mapper_id)
    assert mapper["name"] == "Renamed"
    assert {"column": "qty", "field": "stock", "default": "0"} in mapper["definition"]["columns"]


async def test_an_invalid_mapper_is_refused_in_the_importers_words_and_the_form_kept(
    page: Any, stack: ImportStack
) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    await signed_in(page, stack.panel, user, "/panel/mappers")
    mapper_id = f"invalid-{secrets.token_hex(3)}"
    await _new_products_form(page)
    await _fill_products(page, mapper_id, "No key column")
    await page.fill("[id='sku.column']", "")
    await page.click("button:has-text('Save mapper')")
    assert "the key field sku must be mapped" in await page.inner_text(".error")
    assert await page.input_value("#mapper-name") == "No key column"
    status, _ = await _mapper(stack, user, mapper_id)
    assert status == 404


async def test_another_users_mapper_can_be_tried_but_not_saved_or_deleted(page: Any, stack: ImportStack) -> None:
    owner = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = await products_mapper(stack, owner)
    other = await stack.panel.user(permissions=MAPPER_RIGHTS)
    await signed_in(page, stack.panel, other, f"/panel/mappers/{mapper_id}")
    assert "Only the mapper's owner or an admin may change it" in await page.inner_text("main")
    assert await page.locator("button:has-text('Save mapper')").count() == 0
    assert await page.locator("button:has-text('Delete mapper')").count() == 0
    await page.fill("#sample", "sku;name;price\nX-1;Lamp;1,00\n")
    await page.click("button:has-text('Preview')")
    assert "1 would be imported" in await page.inner_text("#preview")
    # A save forged with the page's own CSRF token: the importer's owner rule refuses it.
    token = await page.input_value("input[name=csrf_token]")
    columns = {f"{field}.column": field for field in ("sku", "name", "price")}
    forged = {
        "csrf_token": token,
        "entity": "products",
        "name": "Taken over",
        "header": "yes",
        **columns,
        "action": "save",
    }
    response = await page.request.post(f"/panel/mappers/{mapper_id}", multipart=forged)
    assert response.status == 403
    _, mapper = await _mapper(stack, owner, mapper_id)
    assert mapper["name"] == "Panel test products"


async def test_an_admin_edits_any_mapper(page: Any, stack: ImportStack) -> None:
    owner = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = await products_mapper(stack, owner)
    admin = await stack.panel.user(admin=True)
    await signed_in(page, stack.panel, admin, f"/panel/mappers/{mapper_id}")
    await page.fill("#mapper-name", "Fixed by an admin")
    await page.click("button:has-text('Save mapper')")
    await page.wait_for_selector("text=The mapper was saved.")
    _, mapper = await _mapper(stack, owner, mapper_id)
    assert (mapper["name"], mapper["owner"]) == ("Fixed by an admin", f"user:{owner['id']}")


async def test_the_owner_deletes_their_mapper(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = await products_mapper(stack, user)
    await signed_in(page, stack.panel, user, f"/panel/mappers/{mapper_id}")
    await page.click("button:has-text('Delete mapper')")
    await page.wait_for_selector("text=The mapper was deleted.")
    assert await page.locator(f"a:has-text('{mapper_id}')").count() == 0
    status, _ = await _mapper(stack, user, mapper_id)
    assert status == 404


async def test_a_reader_lists_mappers_but_cannot_create_one(page: Any, stack: ImportStack) -> None:
    owner = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = await products_mapper(stack, owner)
    reader = await stack.panel.user(permissions={"mappers:read"})
    await signed_in(page, stack.panel, reader, "/panel/mappers")
    assert await page.locator(f"a:has-text('{mapper_id}')").count() == 1
    assert await page.locator("text=New mapper").count() == 0
    response = await page.goto("/panel/mappers/new?entity=products")
    assert response.status == 403
    status, _ = await stack.api("importer", reader, "POST", "/api/mappers", json={})
    assert status == 403


async def test_a_mapper_form_without_the_csrf_token_is_refused(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=MAPPER_RIGHTS)
    mapper_id = f"forged-{secrets.token_hex(3)}"
    await signed_in(page, stack.panel, user, "/panel/mappers/new?entity=products")
    response = await page.request.post(
        "/panel/mappers",
        multipart={"entity": "products", "id": mapper_id, "sku.column": "sku", "action": "save"},
    )
    assert response.status == 403
    status, _ = await _mapper(stack, user, mapper_id)
    assert status == 404
