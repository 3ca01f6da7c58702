"""The Imports pages in a real browser: the Import API's upload as a page, the job's live progress, its row errors,
cancelling, the list's filters; each ends with the importer's or the catalog's API saying the same."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
import pytest_asyncio

from tests.panel.conftest import signed_in
from tests.panel.importer_stack import ImportStack, browser_page, products_csv, products_mapper, running_stack

pytestmark = pytest.mark.asyncio(loop_scope="package")

IMPORTER = {
    "imports:create",
    "imports:read",
    "mappers:read",
    "mappers:create",
    "products:create",
    "products:update",
    "products:read",
}


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def stack(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> AsyncIterator[ImportStack]:
    async with running_stack(database_url, amqp_url, bus_prefix, signing_key) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="package")
async def page(browser: Any, stack: ImportStack) -> AsyncIterator[Any]:
    async with browser_page(browser, stack) as opened:
        yield opened


def _tag() -> str:
    return f"PNL{secrets.token_hex(3).upper()}"


async def _queued_job(stack: ImportStack, user: dict[str, Any], mapper: str, csv: str) -> str:
    """An upload through the API (Prefer: respond-async), as a script would make it: the job waits for the worker."""
    form = {"entity": "products", "mapperId": mapper}
    data = aiohttp.FormData()
    for name, value in form.items():
        data.add_field(name, value)
    data.add_field("file", csv.encode(), filename="products.csv", content_type="text/csv")
    headers = {"Prefer": "respond-async"}
    status, job = await stack.api("importer", user, "POST", "/api/import", data=data, headers=headers)
    assert status == 202, job
    return str(job["id"])


async def _catalog_skus(stack: ImportStack, user: dict[str, Any], tag: str) -> dict[str, Any]:
    query = quote(f"startswith(sku,'{tag}')")
    status, answer = await stack.api("odata", user, "GET", f"/odata/products?$filter={query}&$orderby=sku")
    assert status == 200, answer
    return {row["sku"]: row for row in answer["value"]}


async def test_an_uploaded_csv_goes_to_its_job_page_and_its_rows_reach_the_catalog(
    page: Any, stack: ImportStack
) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    tag = _tag()
    await signed_in(page, stack.panel, user, "/panel/imports")
    await page.click("text=Import a CSV file")
    await page.select_option("#entity", "products")
    await page.select_option("#mapperId", mapper)
    await page.check("input[name=policy][value=skip]")
    await page.set_input_files(
        "#file", {"name": "products.csv", "mimeType": "text/csv", "buffer": products_csv(tag, 3).encode()}
    )
    await page.click("button:has-text('Upload and import')")
    await page.wait_for_url(re.compile(r"/panel/imports/[0-9a-f-]{36}$"))
    job_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    assert await page.inner_text("#job-status") == "Queued"
    assert "products.csv" in await page.inner_text("h1")

    await stack.run_job(job_id)
    await page.wait_for_selector("#job-status:has-text('Completed')")  # the script reloads the page at the end
    assert await page.inner_text("#count-imported") == "3"
    assert await page.inner_text("#progress-summary") == "3 of 3 rows"
    rows = await _catalog_skus(stack, user, tag)
    assert sorted(rows) == [f"{tag}-000", f"{tag}-001", f"{tag}-002"]
    assert rows[f"{tag}-001"]["name"] == "Lamp 1" and str(rows[f"{tag}-001"]["price"]) in ("2.5", "2.50")


async def test_the_progress_bar_moves_with_the_job_without_reloading_the_page(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    tag = _tag()
    job_id = await _queued_job(stack, user, mapper, products_csv(tag, 8))
    await signed_in(page, stack.panel, user, f"/panel/imports/{job_id}")
    assert await page.inner_text("#progress-summary") == "Waiting for a worker"
    await page.evaluate("window.stillTheSamePage = true")
    seen: list[dict[str, Any]] = []

    async def watch(rows_done: int) -> None:
        # The job stands still here (between two batches) until the open page has shown this very point.
        summary = f"{rows_done} of about 8 rows"  # the total is the importer's estimate until the job ends
        await page.wait_for_function(
            "text => document.getElementById('progress-summary').textContent === text", arg=summary
        )
        seen.append(
            {
                "same_page": await page.evaluate("window.stillTheSamePage === true"),
                "status": await page.inner_text("#job-status"),
                "value": await page.get_attribute("#job-progress", "value"),
                "rate": await page.inner_text("#progress-rate"),
                "left": await page.inner_text("#progress-left"),
            }
        )

    await stack.run_job(job_id, watch)
    first = seen[0]
    assert first["same_page"] is True and first["status"] == "Running"
    assert first["value"] == "25"  # 2 of 8
    assert first["rate"].endswith("rows/s") and first["left"].endswith("left")
    assert all(point["same_page"] for point in seen)
    await page.wait_for_selector("#job-status:has-text('Completed')")
    assert await page.evaluate("window.stillTheSamePage === undefined")  # reloaded once, at the end
    assert await page.get_attribute("#job-progress", "value") == "100"
    status, job = await stack.api("importer", user, "GET", f"/api/imports/{job_id}")
    assert (status, job["status"], job["imported"]) == (200, "completed", 8)


async def test_row_errors_show_their_line_column_value_and_message(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    tag = _tag()
    job_id = await _queued_job(stack, user, mapper, products_csv(tag, 4, bad={1: "cheap", 3: "12.50"}))
    await stack.run_job(job_id)
    await signed_in(page, stack.panel, user, f"/panel/imports/{job_id}")
    assert await page.inner_text("#count-imported") == "2" and await page.inner_text("#count-failed") == "2"
    cells = [await row.locator("td").all_inner_texts() for row in await page.locator("table tbody tr").all()]
    assert cells == [
        ["3", "price", "cheap", "price: not a decimal number"],
        ["5", "price", "12.50", "price: not a decimal number (the decimal separator is ',')"],
    ]
    _, job = await stack.api("importer", user, "GET", f"/api/imports/{job_id}")
    assert [(error["row"], error["message"]) for error in job["errors"]] == [
        (3, "price: not a decimal number"),
        (5, "price: not a decimal number (the decimal separator is ',')"),
    ]
    assert sorted(await _catalog_skus(stack, user, tag)) == [f"{tag}-000", f"{tag}-002"]


async def test_a_waiting_import_is_cancelled_from_its_page_with_the_keyboard(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    tag = _tag()
    job_id = await _queued_job(stack, user, mapper, products_csv(tag, 3))
    await signed_in(page, stack.panel, user, f"/panel/imports/{job_id}")
    await page.focus("button:has-text('Cancel import')")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=The import was cancelled")
    assert await page.inner_text("#job-status") == "Cancelled"
    assert await page.locator("button:has-text('Cancel import')").count() == 0
    status, job = await stack.api("importer", user, "GET", f"/api/imports/{job_id}")
    assert (status, job["status"]) == (200, "cancelled")
    outcome = await stack.run_job(job_id)  # the worker then finds it cancelled and writes nothing
    assert outcome.status == "cancelled"
    assert await _catalog_skus(stack, user, tag) == {}


async def test_the_list_is_filtered_by_state_entity_and_time(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    done = await _queued_job(stack, user, mapper, products_csv(_tag(), 2))
    await stack.run_job(done)
    broken = await _queued_job(stack, user, mapper, "colour;size\nred;L\n")
    await stack.run_job(broken)
    await signed_in(page, stack.panel, user, "/panel/imports")
    listed = page.locator("table tbody tr")
    assert await listed.count() == 2
    await page.select_option("#filter-status", "failed")
    await page.click("button:has-text('Filter')")
    await page.wait_for_url(re.compile(r"status=failed"))
    assert await listed.count() == 1
    assert await page.locator(f"a[href='/panel/imports/{broken}']").count() == 1
    await page.select_option("#filter-status", "")
    await page.select_option("#filter-entity", "customers")
    await page.click("button:has-text('Filter')")
    assert "No imports match." in await page.inner_text("main")
    await page.goto("/panel/imports?from=2000-01-01&to=2000-12-31")
    assert "No imports match." in await page.inner_text("main")
    _, jobs = await stack.api("importer", user, "GET", "/api/imports?status=failed")
    assert [job["id"] for job in jobs["value"]] == [broken]


async def test_without_javascript_the_job_page_shows_its_state_and_a_refresh_link(
    browser: Any, stack: ImportStack
) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    job_id = await _queued_job(stack, user, mapper, products_csv(_tag(), 2))
    async with browser_page(browser, stack, java_script_enabled=False) as page:
        await signed_in(page, stack.panel, user, f"/panel/imports/{job_id}")
        assert await page.inner_text("#job-status") == "Queued"
        await stack.run_job(job_id)
        assert await page.inner_text("#job-status") == "Queued"  # nothing updates it
        await page.click("a:has-text('Refresh')")
        assert await page.inner_text("#job-status") == "Completed"
        assert await page.inner_text("#count-imported") == "2"


async def test_a_user_without_imports_create_sees_no_upload_and_cannot_open_it(page: Any, stack: ImportStack) -> None:
    user = await stack.panel.user(permissions={"imports:read"})
    await signed_in(page, stack.panel, user, "/panel/imports")
    assert await page.locator("text=Import a CSV file").count() == 0
    response = await page.goto("/panel/imports/new")
    assert response.status == 403
    status, _ = await stack.api("importer", user, "POST", "/api/imports/00000000-0000-0000-0000-000000000000/cancel")
    assert status == 403


async def test_an_upload_without_the_forms_csrf_token_is_refused_and_nothing_imported(
    page: Any, stack: ImportStack
) -> None:
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    await signed_in(page, stack.panel, user, "/panel/imports/new")
    response = await page.request.post(
        "/panel/imports",
        multipart={
            "entity": "products",
            "mapperId": mapper,
            "file": {"name": "x.csv", "mimeType": "text/csv", "buffer": products_csv(_tag(), 1).encode()},
        },
    )
    assert response.status == 403
    status, jobs = await stack.api("importer", user, "GET", "/api/imports")
    assert (status, jobs["value"]) == (200, [])


async def test_another_users_job_reads_as_not_found(page: Any, stack: ImportStack) -> None:
    owner = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, owner)
    job_id = await _queued_job(stack, owner, mapper, products_csv(_tag(), 1))
    stranger = await stack.panel.user(permissions=IMPORTER)
    await signed_in(page, stack.panel, stranger, f"/panel/imports/{job_id}")
    assert "No such import job" in await page.inner_text("main")
    response = await page.request.get(f"/panel/imports/{job_id}/progress")
    assert response.status == 404
    status, _ = await stack.api("importer", stranger, "GET", f"/api/imports/{job_id}")
    assert status == 404


async def test_the_pages_run_only_their_own_scripts_and_refuse_framing(page: Any, stack: ImportStack) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    user = await stack.panel.user(permissions=IMPORTER)
    mapper = await products_mapper(stack, user)
    job_id = await _queued_job(stack, user, mapper, products_csv(_tag(), 1))
    await signed_in(page, stack.panel, user, "/panel/")
    for path in ("/panel/imports", "/panel/imports/new", f"/panel/imports/{job_id}", f"/panel/mappers/{mapper}"):
        response = await page.goto(path)
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "unsafe-inline" not in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store", path
        html = await page.content()
        assert re.search(r"<script(?![^>]*\ssrc=)", html) is None, path
        assert re.search(r"<[^>]+\son[a-z]+=", html) is None, path
    await page.goto(f"/panel/imports/{job_id}")
    await page.wait_for_function("document.getElementById('refresh-hint').textContent.startsWith('This page updates')")
    assert problems == []
