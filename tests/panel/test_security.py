"""The panel's guards: CSRF tokens on every form post, no framing, no caching of pages, sessions."""

from __future__ import annotations

import re
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


async def test_static_files_are_cached_for_a_year_at_their_versioned_url(page: Any, panel: Panel) -> None:
    response = await page.goto("/auth/login")
    stylesheet = await page.get_attribute("link[rel=stylesheet]", "href")
    script = await page.get_attribute("script[src]", "src")
    assert stylesheet.startswith("/panel/static/app.css?v=") and script.startswith("/panel/static/app.js?v=")
    for url, content_type in ((stylesheet, "text/css"), (script, "text/javascript")):
        asset = await page.request.get(url)
        assert asset.status == 200 and asset.headers["content-type"].startswith(content_type)
        assert "max-age=31536000" in asset.headers["cache-control"]
    assert response.status == 200


async def test_no_page_runs_inline_script(page: Any, panel: Panel) -> None:
    user = await panel.user(admin=True)
    await signed_in(page, panel, user, "/panel/")
    for path in ("/auth/login", "/panel/", "/panel/api-keys/new", f"/panel/users/{user['id']}", "/panel/apps/new"):
        response = await page.goto(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        html = await page.content()
        assert re.search(r"<script(?![^>]*\ssrc=)", html) is None, path
        assert re.search(r"<[^>]+\son[a-z]+=", html) is None, path


async def test_a_key_is_created_and_revoked_without_javascript(browser: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create", "api_keys:delete"})
    context = await browser.new_context(base_url=panel.url, java_script_enabled=False)
    try:
        page = await context.new_page()
        await signed_in(page, panel, user, "/panel/api-keys/new")
        await page.fill("#name", "No script")
        await page.click("button:has-text('Create API Key')")
        key = await page.input_value("#new_api_key")
        assert await panel.verify_key(key) == 200
        await page.goto("/panel/api-keys")
        await page.locator("tr", has_text="No script").locator("button:has-text('Revoke')").click()
        assert await panel.verify_key(key) == 401
    finally:
        await context.close()
