"""Seed 002's Users area in a real browser: "Enable the API?", "Regenerate API Token", Save, and permissions."""

from __future__ import annotations

import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from services.auth import accounts
from services.auth.context import operator_principal
from tests.panel.conftest import PASSWORD, Panel, sign_in, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

API_TICK_BOX = "Yes, allow this user to use the API"
SCREENSHOT = Path(tempfile.gettempdir()) / "panel-user-edit.png"


async def test_admin_ticks_enable_the_api_sees_a_token_and_saves(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user(permissions={"products:read"})
    # The run's database holds every suite's users; the list pages by id, so open the page that starts at the target.
    await sign_in(page, admin["username"], f"/panel/users?after={target['id'] - 1}")
    await page.locator("tr", has_text=target["username"]).locator("text=Edit").click()
    assert await page.input_value("#api_token") == ""
    assert not await page.is_visible("#api_token")

    await page.get_by_label(API_TICK_BOX).check()
    # expect() polls from Playwright's own world; wait_for_function would evaluate a string, which the CSP forbids.
    await expect(page.locator("#api_token")).to_have_value(re.compile(r"^cpt_"))
    token = await page.input_value("#api_token")
    assert await page.is_visible("#api_token")
    assert "Copy the token" in await page.inner_text("#api-status")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=Saved.")

    assert await page.is_checked("#api_enabled")
    assert await page.input_value("#api_token") == token
    assert await panel.verify_basic(target["username"], token) == 200


async def test_regenerated_token_takes_effect_only_when_saved(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user(permissions={"products:read"})
    enabled = await accounts.set_api_access(panel.ctx, operator_principal(), target["id"], True)
    old = enabled["token"]
    await signed_in(page, panel, admin, f"/panel/users/{target['id']}")
    assert await page.input_value("#api_token") == old

    await page.get_by_role("button", name="Regenerate API Token").click()
    await page.wait_for_selector("text=takes effect only when you click Save")
    new = await page.input_value("#api_token")
    assert new.startswith("cpt_") and new != old
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert await panel.verify_basic(target["username"], old) == 200
    assert await panel.verify_basic(target["username"], new) == 401

    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=The new token is now in effect")
    assert await page.input_value("#api_token") == new
    assert await panel.verify_basic(target["username"], old) == 401
    assert await panel.verify_basic(target["username"], new) == 200


async def test_regenerate_keeps_unsaved_changes_on_the_page(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user()
    await accounts.set_api_access(panel.ctx, operator_principal(), target["id"], True)
    await signed_in(page, panel, admin, f"/panel/users/{target['id']}")
    await page.fill("#email", "kept@example.com")
    await page.get_by_role("button", name="Regenerate API Token").click()
    await page.wait_for_selector("text=takes effect only when you click Save")
    assert await page.input_value("#email") == "kept@example.com"
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=The new token is now in effect")
    assert (await accounts.get_user(panel.ctx, operator_principal(), target["id"]))["email"] == "kept@example.com"


async def test_unticking_and_saving_revokes_api_access(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user()
    token = (await accounts.set_api_access(panel.ctx, operator_principal(), target["id"], True))["token"]
    await signed_in(page, panel, admin, f"/panel/users/{target['id']}")
    await page.get_by_label(API_TICK_BOX).uncheck()
    assert await panel.verify_basic(target["username"], token) == 200  # nothing changes before Save
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=API access is revoked")
    assert not await page.is_checked("#api_enabled")
    assert await panel.verify_basic(target["username"], token) == 401


async def test_ticked_permissions_are_saved_and_govern_the_api(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user(permissions={"products:read"})
    token = (await accounts.set_api_access(panel.ctx, operator_principal(), target["id"], True))["token"]
    await signed_in(page, panel, admin, f"/panel/users/{target['id']}")
    await page.get_by_label("orders read").check()
    await page.get_by_label("products read").uncheck()
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=Saved.")
    assert await page.is_checked("input[value='orders:read']")
    status, body = await panel.verify({"kind": "basic", "username": target["username"], "token": token})
    assert status == 200
    assert body["principal"]["permissions"] == ["orders:read"]


async def test_user_without_users_update_gets_403_on_the_edit_page(page: Any, panel: Panel) -> None:
    reader = await panel.user(permissions={"users:read"})
    target = await panel.user()
    await signed_in(page, panel, reader, f"/panel/users?after={target['id'] - 1}")
    row = page.locator("tr", has_text=target["username"])
    assert await row.count() == 1
    assert await row.locator("text=Edit").count() == 0
    response = await page.goto(f"/panel/users/{target['id']}")
    assert response.status == 403
    assert "users:update" in await page.inner_text("main")


async def test_editor_who_is_not_admin_cannot_edit_an_admin(page: Any, panel: Panel) -> None:
    editor = await panel.user(permissions={"users:read", "users:update"})
    admin = await panel.user(admin=True)
    await signed_in(page, panel, editor, f"/panel/users/{admin['id']}")
    response = await page.goto(f"/panel/users/{admin['id']}")
    assert response.status == 403
    assert "Only an admin" in await page.inner_text("main")


async def test_editor_cannot_grant_a_permission_they_do_not_hold(page: Any, panel: Panel) -> None:
    editor = await panel.user(permissions={"users:read", "users:update", "products:read"})
    target = await panel.user()
    await signed_in(page, panel, editor, f"/panel/users/{target['id']}")
    assert await page.is_disabled("input[value='orders:delete']")
    assert await page.locator("input[name='is_admin']").count() == 0
    await page.get_by_label("products read").check()
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=Saved.")
    saved = await accounts.get_user(panel.ctx, operator_principal(), target["id"])
    assert saved["permissions"] == ["products:read"]


async def test_admin_adds_a_user_with_permissions_on_the_add_screen(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    await signed_in(page, panel, admin, "/panel/users")
    await page.get_by_role("link", name="Add User").click()
    username = f"added-{secrets.token_hex(4)}"
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.get_by_label("products read").check()
    await page.get_by_role("button", name="Add User").click()
    await page.wait_for_selector("text=The user was added.")
    assert await page.input_value("#username") == username
    assert await page.is_checked("input[value='products:read']")
    assert not await page.is_checked("#api_enabled")

    await page.context.clear_cookies()
    await sign_in(page, username, "/panel/")
    assert f"Signed in as {username}" in await page.inner_text("header")


async def test_add_screen_refuses_a_taken_username_and_keeps_the_form(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    existing = await panel.user()
    await signed_in(page, panel, admin, "/panel/users/new")
    await page.fill("#username", existing["username"])
    await page.fill("#email", "someone@example.com")
    await page.get_by_role("button", name="Add User").click()
    assert "already exists" in await page.inner_text(".error")
    assert await page.input_value("#email") == "someone@example.com"


async def test_without_javascript_the_tick_and_save_enable_the_api_and_show_the_token(
    browser: Any, panel: Panel
) -> None:
    admin = await panel.user(admin=True)
    target = await panel.user()
    context = await browser.new_context(base_url=panel.url, java_script_enabled=False)
    try:
        page = await context.new_page()
        await signed_in(page, panel, admin, f"/panel/users/{target['id']}")
        await page.get_by_label(API_TICK_BOX).check()
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_selector("text=API access is enabled")
        token = await page.input_value("#api_token")
        assert token.startswith("cpt_")
        assert await panel.verify_basic(target["username"], token) == 200
    finally:
        await context.close()
