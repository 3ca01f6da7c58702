"""The Imports and Mappers pages at laptop (1280x800) and phone (390x844) width: axe-core finds no serious or critical
violation, nothing is wider than the phone's screen, and a screenshot of each is written to var/screenshots/."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.panel.conftest import axe_violations, screenshot, signed_in
from tests.panel.importer_stack import (
    LAPTOP,
    PHONE,
    ImportStack,
    browser_page,
    install_axe,
    products_csv,
    products_mapper,
    running_stack,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")

Opener = Callable[[Any, ImportStack, dict[str, Any]], Awaitable[None]]


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def stack(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> AsyncIterator[ImportStack]:
    async with running_stack(database_url, amqp_url, bus_prefix, signing_key) as running:
        yield running


@pytest.fixture(scope="module")
def axe_script() -> str:
    return install_axe()


async def _job(stack: ImportStack, user: dict[str, Any], csv: str, *, run: bool) -> str:
    mapper = await products_mapper(stack, user, f"shots-{secrets.token_hex(3)}")
    data = aiohttp.FormData()
    data.add_field("entity", "products")
    data.add_field("mapperId", mapper)
    data.add_field("file", csv.encode(), filename="spring-catalogue.csv", content_type="text/csv")
    headers = {"Prefer": "respond-async"}
    status, job = await stack.api("importer", user, "POST", "/api/import", data=data, headers=headers)
    assert status == 202, job
    if run:
        await stack.run_job(str(job["id"]))
    return str(job["id"])


async def open_imports(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    await _job(stack, admin, products_csv(f"S{secrets.token_hex(2).upper()}", 6, bad={2: "n/a"}), run=True)
    await page.goto("/panel/imports")


async def open_upload(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    await products_mapper(stack, admin)
    await page.goto("/panel/imports/new")


async def open_waiting_job(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    job_id = await _job(stack, admin, products_csv(f"Q{secrets.token_hex(2).upper()}", 40), run=False)
    await page.goto(f"/panel/imports/{job_id}")


async def open_finished_job(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    bad = {1: "cheap", 4: "12.50", 5: ""}
    job_id = await _job(stack, admin, products_csv(f"E{secrets.token_hex(2).upper()}", 8, bad=bad), run=True)
    await page.goto(f"/panel/imports/{job_id}")


async def open_mappers(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    await products_mapper(stack, admin)
    await page.goto("/panel/mappers")


async def open_choose_entity(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    await page.goto("/panel/mappers/new")


async def open_mapper_preview(page: Any, stack: ImportStack, admin: dict[str, Any]) -> None:
    mapper_id = await products_mapper(stack, admin)
    await page.goto(f"/panel/mappers/{mapper_id}")
    sample = "sku;name;price;colour\nL-1;Desk lamp;12,50;red\nL-2;Floor lamp;cheap;blue\n;No sku;3,00;green\n"
    await page.fill("#sample", sample)
    await page.click("button:has-text('Preview')")
    await page.wait_for_selector("#preview")


PAGES: dict[str, Opener] = {
    "imports-list": open_imports,
    "imports-upload": open_upload,
    "imports-job-waiting": open_waiting_job,
    "imports-job-finished": open_finished_job,
    "mappers-list": open_mappers,
    "mappers-new": open_choose_entity,
    "mappers-edit-preview": open_mapper_preview,
}


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize("name", list(PAGES))
async def test_each_page_has_no_serious_accessibility_violation_and_fits_the_screen(
    browser: Any, stack: ImportStack, axe_script: str, name: str, viewport: dict[str, int]
) -> None:
    admin = await stack.panel.user(admin=True)
    async with browser_page(browser, stack, viewport=viewport) as page:
        await signed_in(page, stack.panel, admin, "/panel/")
        await PAGES[name](page, stack, admin)
        await page.wait_for_load_state()
        assert await axe_violations(page, axe_script) == []
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
        width = "laptop" if viewport == LAPTOP else "phone"
        await screenshot(page, f"{name}-{width}")


async def test_the_mapper_preview_works_from_the_keyboard_alone(browser: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions={"mappers:read", "mappers:create", "mappers:update"})
    mapper_id = await products_mapper(stack, user)
    async with browser_page(browser, stack) as page:
        await signed_in(page, stack.panel, user, f"/panel/mappers/{mapper_id}")
        await page.focus("#sample")
        await page.keyboard.type("sku;name;price\nK-1;Lamp;2,50\n")
        await page.keyboard.press("Tab")  # to the file chooser
        await page.keyboard.press("Tab")  # to Preview
        assert await page.evaluate("document.activeElement.textContent") == "Preview"
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#preview")
        assert "1 would be imported, 0 would fail" in await page.inner_text("#preview")
    status, mapper = await stack.api("importer", user, "GET", f"/api/mappers/{mapper_id}")
    assert (status, mapper["name"]) == (200, "Panel test products")  # a preview saves nothing
