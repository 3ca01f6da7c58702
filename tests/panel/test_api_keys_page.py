""" "Creating an API Key" (docs/api-keys-and-basic.md), done in a real browser."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.auth import api_keys
from services.auth.context import operator_principal
from services.auth.keys import USAGE
from tests.panel.conftest import Panel, sign_in, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _create_key_in_browser(page: Any, name: str, expires: str = "") -> str:
    await page.goto("/panel/api-keys")
    await page.click("text=Create New API Key")
    await page.fill("#name", name)
    if expires:
        await page.fill("#expires_at", expires)
    await page.click("button:has-text('Create API Key')")
    await page.wait_for_selector("#new_api_key")
    return await page.input_value("#new_api_key")


async def test_visitor_without_a_session_is_sent_to_login_with_the_way_back(page: Any) -> None:
    await page.goto("/panel/api-keys")
    parts = urlsplit(page.url)
    assert parts.path == "/auth/login"
    assert parse_qs(parts.query)["next"] == ["/panel/api-keys"]


async def test_new_key_is_shown_once_with_a_warning_then_only_its_prefix(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create", "products:read"})
    await sign_in(page, user["username"], "/panel/api-keys")
    name = f"Inventory sync {secrets.token_hex(3)}"
    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    key = await _create_key_in_browser(page, name, expires)
    assert key.startswith("cap_")
    assert "won't be shown again" in await page.inner_text("main")
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.click("button[data-copy='new_api_key']")
    assert await page.evaluate("navigator.clipboard.readText()") == key

    await page.reload()
    assert urlsplit(page.url).path == "/panel/api-keys"
    content = await page.content()
    assert key not in content
    row = page.locator("tr", has_text=name)
    assert await row.count() == 1
    assert key[:12] in await row.inner_text()
    assert expires in await row.inner_text()
    assert "Active" in await row.inner_text()


async def test_created_key_works_until_revoked_from_the_page(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create", "api_keys:delete"})
    await signed_in(page, panel, user, "/panel/api-keys")
    name = f"Revocable {secrets.token_hex(3)}"
    key = await _create_key_in_browser(page, name)
    assert await panel.verify_key(key) == 200

    await page.goto("/panel/api-keys")
    await page.locator("tr", has_text=name).locator("button:has-text('Revoke')").click()
    await page.wait_for_selector("text=The API key was revoked")
    assert "Revoked" in await page.locator("tr", has_text=name).inner_text()
    assert await panel.verify_key(key) == 401


async def test_expiry_in_the_past_is_refused_and_the_form_kept(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create"})
    await signed_in(page, panel, user, "/panel/api-keys/new")
    await page.fill("#name", "Too late")
    await page.fill("#expires_at", "2020-01-01")
    await page.click("button:has-text('Create API Key')")
    assert "in the past" in await page.inner_text(".error")
    assert await page.input_value("#name") == "Too late"
    assert await page.locator("#new_api_key").count() == 0


async def test_admin_sees_every_users_keys_and_others_do_not(page: Any, panel: Panel) -> None:
    owner = await panel.user(permissions={"api_keys:read", "api_keys:create"})
    name = f"Owned elsewhere {secrets.token_hex(3)}"
    await api_keys.create_key(
        panel.ctx, operator_principal(), name=name, expires_at=None, scope=None, owner_id=owner["id"]
    )
    admin = await panel.user(admin=True)
    await signed_in(page, panel, admin, "/panel/api-keys")
    assert await page.locator("tr", has_text=name).count() == 0
    await page.click("text=Show every user's keys")
    row = page.locator("tr", has_text=name)
    assert owner["username"] in await row.inner_text()

    other = await panel.user(permissions={"api_keys:read"})
    await page.context.clear_cookies()
    await signed_in(page, panel, other, "/panel/api-keys?all=true")
    assert "Only an admin" in await page.inner_text("main")
    response = await page.goto("/panel/api-keys?all=true")
    assert response.status == 403


async def test_user_without_api_keys_read_gets_403(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"products:read"})
    await signed_in(page, panel, user, "/panel/")
    assert await page.locator("header nav >> text=API Keys").count() == 0
    response = await page.goto("/panel/api-keys")
    assert response.status == 403
    assert "api_keys:read" in await page.inner_text("main")


async def test_names_are_shown_as_text_never_as_markup(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create"})
    await signed_in(page, panel, user, "/panel/api-keys")
    name = f"<img src=x id=injected-{secrets.token_hex(3)}>"
    await _create_key_in_browser(page, name)
    await page.goto("/panel/api-keys")
    assert await page.locator("img").count() == 0
    assert name in await page.inner_text("table")


async def _rotate_in_browser(page: Any, name: str, grace_label: str) -> str:
    await page.goto("/panel/api-keys")
    await page.locator("tr", has_text=name).locator("a:has-text('Rotate')").click()
    await page.select_option("#grace_seconds", label=grace_label)
    await page.click("button:has-text('Rotate API Key')")
    await page.wait_for_selector("#new_api_key")
    return await page.input_value("#new_api_key")


async def test_rotation_shows_the_new_key_once_and_the_old_one_works_for_the_grace_period(
    page: Any, panel: Panel
) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create"})
    name = f"Rotated {secrets.token_hex(3)}"
    old = await api_keys.create_key(
        panel.ctx, operator_principal(), name=name, expires_at=None, scope=None, owner_id=user["id"]
    )
    await signed_in(page, panel, user, "/panel/api-keys")
    new = await _rotate_in_browser(page, name, "1 hour")
    assert new != old["key"] and "won't be shown again" in await page.inner_text("main")
    assert "keeps working until" in await page.inner_text("#grace-notice")
    assert await panel.verify_key(new) == 200
    assert await panel.verify_key(old["key"]) == 200
    keys = {key["id"]: key for key in await api_keys.list_keys(panel.ctx, panel.principal_of(user), False, 10, 0)}
    ends = datetime.fromisoformat(keys[old["id"]]["expires_at"])
    assert timedelta(minutes=55) < ends - datetime.now(UTC) <= timedelta(hours=1)
    await page.reload()
    assert new not in await page.content()


async def test_rotation_without_grace_stops_the_old_key_at_once(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create"})
    name = f"Rotated now {secrets.token_hex(3)}"
    old = await api_keys.create_key(
        panel.ctx, operator_principal(), name=name, expires_at=None, scope=None, owner_id=user["id"]
    )
    await signed_in(page, panel, user, "/panel/api-keys")
    new = await _rotate_in_browser(page, name, "None: the old key stops working now")
    assert "stopped working now" in await page.inner_text("#grace-notice")
    assert await panel.verify_key(new) == 200
    assert await panel.verify_key(old["key"]) == 401


async def test_a_key_narrowed_to_a_scope_carries_only_that_scope(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create", "products:read", "orders:read"})
    await signed_in(page, panel, user, "/panel/api-keys/new")
    await page.fill("#name", "Products only")
    await page.click("summary:has-text('Scope')")
    await page.check("input[name='scope'][value='products:read']")
    assert await page.locator("input[name='scope'][value='products:create']").is_disabled()
    assert await page.locator("input[name='scope'][value='customers:read']").count() == 0
    await page.click("button:has-text('Create API Key')")
    key = await page.input_value("#new_api_key")
    status, body = await panel.verify("api_key", key)
    assert status == 200 and body["principal"]["permissions"] == ["products:read"]
    await page.goto("/panel/api-keys")
    assert "products:read" in await page.locator("tr", has_text="Products only").inner_text()


async def test_the_list_shows_when_a_key_was_last_used(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read"})
    name = f"Used {secrets.token_hex(3)}"
    created = await api_keys.create_key(
        panel.ctx, operator_principal(), name=name, expires_at=None, scope=None, owner_id=user["id"]
    )
    assert await panel.verify_key(created["key"]) == 200
    await panel.server.app[USAGE].flush(panel.ctx.pool)
    await signed_in(page, panel, user, "/panel/api-keys")
    cells = page.locator("tr", has_text=name).locator("td")
    assert await cells.nth(5).inner_text() != "never"
