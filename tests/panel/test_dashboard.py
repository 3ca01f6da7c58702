"""The dashboard, the panel's landing page: the user's keys, their recent imports read from the importer, and for
admins the platform's health."""

from __future__ import annotations

import io
import secrets
from typing import Any

import aiohttp
import pytest

from services.auth import api_keys
from services.auth.context import operator_principal
from tests.panel.conftest import Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

IMPORTER_RIGHTS = {
    "imports:read",
    "imports:create",
    "mappers:create",
    "mappers:read",
    "products:create",
    "products:update",
}


async def _import_as(panel: Panel, user: dict[str, Any], rows: str) -> dict[str, Any]:
    """Upload a CSV to the importer as the user (their signed principal, as the gateway sends it)."""
    headers = panel.signed(user)
    mapper_id = f"dash-{secrets.token_hex(4)}"
    mapper = {
        "id": mapper_id,
        "entity": "products",
        "definition": {
            "delimiter": ";",
            "key": "sku",
            "columns": [
                {"column": "sku", "field": "sku", "required": True},
                {"column": "name", "field": "name"},
                {"column": "price", "field": "price"},
            ],
        },
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{panel.importer}/api/mappers", json=mapper, headers=headers) as response:
            assert response.status == 201, await response.text()
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO(rows.encode()), filename="dashboard.csv", content_type="text/csv")
        form.add_field("entity", "products")
        form.add_field("mapperId", mapper_id)
        async with session.post(f"{panel.importer}/api/import", data=form, headers=headers) as response:
            assert response.status in (200, 201, 202), await response.text()
            return await response.json()


async def test_dashboard_is_the_landing_page_with_the_users_keys(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read"})
    name = f"Dashboard key {secrets.token_hex(3)}"
    await api_keys.create_key(
        panel.ctx, operator_principal(), name=name, expires_at=None, scope=None, owner_id=user["id"]
    )
    await signed_in(page, panel, user, "/panel")
    assert page.url.endswith("/panel/")
    assert await page.inner_text("h1") == "Dashboard"
    assert name in await page.inner_text("section[aria-labelledby='keys-heading']")
    keys = await api_keys.list_keys(panel.ctx, panel.principal_of(user), False, 10, 0)
    assert [key["name"] for key in keys] == [name]


async def test_dashboard_shows_the_users_recent_imports_with_their_state(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions=IMPORTER_RIGHTS)
    sku = f"DASH-{secrets.token_hex(3).upper()}"
    job = await _import_as(panel, user, f"sku;name;price\n{sku};Dashboard widget;9.50\n")
    await signed_in(page, panel, user, "/panel/")
    imports = page.locator("section[aria-labelledby='imports-heading']")
    row = imports.locator("tr", has_text="dashboard.csv")
    assert await row.count() == 1
    assert job["status"].capitalize() in await row.inner_text()
    async with aiohttp.ClientSession() as session:
        url = f"{panel.importer}/api/imports/{job['id']}"
        async with session.get(url, headers=panel.signed(user)) as response:
            assert (await response.json())["status"] == job["status"]


async def test_another_users_imports_are_not_on_the_dashboard(page: Any, panel: Panel) -> None:
    owner = await panel.user(permissions=IMPORTER_RIGHTS)
    await _import_as(panel, owner, f"sku;name;price\nOTHER-{secrets.token_hex(3)};Not yours;1\n")
    viewer = await panel.user(permissions={"imports:read"})
    await signed_in(page, panel, viewer, "/panel/")
    assert "No import yet." in await page.inner_text("section[aria-labelledby='imports-heading']")


async def test_admin_sees_the_platforms_health(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{panel.gateway}/api/no-such-route") as response:
            assert response.status == 404
    await signed_in(page, panel, admin, "/panel/")
    health = page.locator("section[aria-labelledby='health-heading']")
    for service in ("auth", "gateway", "odata", "importer"):
        assert "Ready" in await health.locator("li", has_text=service).inner_text()
    assert ".imports.jobs" in await health.locator("table").inner_text()
    rates = await page.inner_text("#rates")
    assert "4xx" in rates and "5xx" in rates
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{panel.gateway}/readyz") as response:
            assert response.status == 200


async def test_users_who_are_not_admins_see_no_platform_health(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read"})
    await signed_in(page, panel, user, "/panel/")
    assert await page.locator("#health-heading").count() == 0
