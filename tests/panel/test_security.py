"""The panel's guards: CSRF tokens on every form post, no framing, no caching of pages, sessions."""

from __future__ import annotations

from typing import Any

import pytest

from services.auth import api_keys, db
from services.auth.context import operator_principal
from services.auth.keys import POOL
from tests.panel.conftest import Panel, sign_in, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def test_post_without_the_csrf_token_is_refused(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create"})
    await signed_in(page, panel, user, "/panel/api-keys")
    response = await page.request.post("/panel/api-keys", form={"name": "forged"})
    assert response.status == 403
    response = await page.request.post("/panel/api-keys", form={"name": "forged", "csrf_token": "guessed"})
    assert response.status == 403
    keys = await api_keys.list_keys(panel.ctx, operator_principal(), True, 500, 0)
    assert not [key for key in keys if key["username"] == user["username"]]


async def test_user_save_without_the_csrf_token_changes_nothing(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user()
    await signed_in(page, panel, admin, f"/panel/users/{target['id']}")
    response = await page.request.post(
        f"/panel/users/{target['id']}", form={"is_active": "yes", "is_admin": "yes", "api_enabled": "yes"}
    )
    assert response.status == 403
    async with panel.server.app[POOL].acquire() as conn:
        row = await db.get_user(conn, target["id"])
    assert not row["is_admin"] and not row["api_access_enabled"]


async def test_pages_refuse_framing_and_are_not_cached(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read"})
    await signed_in(page, panel, user, "/panel/")
    response = await page.goto("/panel/api-keys")
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


async def test_page_renders_without_blocked_resources(page: Any, panel: Panel) -> None:
    """The stylesheet and script load under the page's own Content-Security-Policy."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    user = await panel.user(permissions={"api_keys:read"})
    await signed_in(page, panel, user, "/panel/")
    await page.goto("/panel/")
    background = await page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert background == "rgb(36, 41, 47)"
    assert problems == []


async def test_sign_out_ends_the_panel_session(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read"})
    await sign_in(page, user["username"], "/panel/")
    await page.click("button:has-text('Sign out')")
    await page.wait_for_load_state()
    await page.goto("/panel/api-keys")
    assert "/auth/login" in page.url


async def test_deactivated_user_loses_the_panel_at_once(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read"})
    await signed_in(page, panel, user, "/panel/api-keys")
    async with panel.server.app[POOL].acquire() as conn:
        await db.update_user(conn, user["id"], {"is_active": False})
    await page.goto("/panel/api-keys")
    assert "/auth/login" in page.url


async def test_unknown_panel_page_is_an_html_404(page: Any, panel: Panel) -> None:
    user = await panel.user()
    await signed_in(page, panel, user, "/panel/")
    response = await page.goto("/panel/no-such-page")
    assert response.status == 404
    assert "no such page" in await page.inner_text("main")
