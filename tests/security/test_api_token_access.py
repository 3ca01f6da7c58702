"""A user's API token is their secret: only an admin, or someone holding every right of theirs, reads or changes it,
and a holder of only users:update can neither act as another user, undo a deactivation, nor grant what they lack."""

from __future__ import annotations

from tests.security.conftest import Admin, Stack, User, basic, hidden_fields

TARGET_RIGHTS = ("products:read", "orders:read")


async def _editor(stack: Stack, admin: Admin, *rights: str) -> dict[str, str]:
    """The API-key headers of a user holding `rights`."""
    return {"X-API-Key": await admin.api_key_for(await stack.user(rights))}


async def _reads_products(stack: Stack, user: User, token: str) -> int:
    return (await stack.call("GET", "/odata/products?$top=1", headers=basic(user.username, token))).status


async def test_an_editor_cannot_read_the_token_of_a_user_with_rights_beyond_their_own(
    stack: Stack, admin: Admin
) -> None:
    target = await stack.user(TARGET_RIGHTS)
    token = await admin.enable_api_token(target)
    editor = await _editor(stack, admin, "users:read", "users:update", "products:read")
    answer = await stack.call("GET", f"/api/users/{target.id}/api-token", headers=editor)
    assert answer.status == 403
    assert token not in answer.text


async def test_an_editor_cannot_enable_api_access_for_a_user_with_rights_beyond_their_own(
    stack: Stack, admin: Admin
) -> None:
    target = await stack.user(TARGET_RIGHTS)
    editor = await _editor(stack, admin, "users:read", "users:update", "products:read")
    answer = await stack.call("POST", f"/api/users/{target.id}/api-access", json={"enabled": True}, headers=editor)
    assert answer.status == 403
    assert "token" not in answer.json()
    assert (await admin.call("GET", f"/api/users/{target.id}")).json()["api_access_enabled"] is False


async def test_an_editor_cannot_regenerate_or_save_the_token_of_a_user_with_rights_beyond_their_own(
    stack: Stack, admin: Admin
) -> None:
    target = await stack.user(TARGET_RIGHTS)
    token = await admin.enable_api_token(target)
    editor = await _editor(stack, admin, "users:update", "products:read")
    regenerated = await stack.call("POST", f"/api/users/{target.id}/api-token/regenerate", headers=editor)
    assert regenerated.status == 403
    assert "token" not in regenerated.json()
    pending = (await admin.call("POST", f"/api/users/{target.id}/api-token/regenerate")).json()["pending_id"]
    saved = await stack.call(
        "POST", f"/api/users/{target.id}/api-token/save", json={"pending_id": pending}, headers=editor
    )
    assert saved.status == 403
    assert await _reads_products(stack, target, token) == 200  # the current token is still the one in effect


async def test_enabling_api_access_that_is_already_on_never_returns_the_token(stack: Stack, admin: Admin) -> None:
    target = await stack.user(TARGET_RIGHTS)
    token = await admin.enable_api_token(target)
    again = await admin.call("POST", f"/api/users/{target.id}/api-access", json={"enabled": True})
    assert again.status == 200
    assert again.json() == {"enabled": True, "username": target.username, "already_enabled": True}
    assert token not in again.text
    assert await _reads_products(stack, target, token) == 200


async def test_an_editor_holding_every_right_of_the_user_manages_their_token(stack: Stack, admin: Admin) -> None:
    target = await stack.user(TARGET_RIGHTS)
    editor = await _editor(stack, admin, "users:update", *TARGET_RIGHTS)
    enabled = await stack.call("POST", f"/api/users/{target.id}/api-access", json={"enabled": True}, headers=editor)
    assert enabled.status == 200, enabled.text
    token = enabled.json()["token"]
    assert await _reads_products(stack, target, token) == 200
    shown = await stack.call("GET", f"/api/users/{target.id}/api-token", headers=editor)
    assert shown.status == 200 and shown.json()["token"] == token
    pending = (await stack.call("POST", f"/api/users/{target.id}/api-token/regenerate", headers=editor)).json()
    saved = await stack.call(
        "POST", f"/api/users/{target.id}/api-token/save", json={"pending_id": pending["pending_id"]}, headers=editor
    )
    assert saved.status == 200
    assert await _reads_products(stack, target, pending["token"]) == 200


async def test_a_holder_of_only_users_update_cannot_get_a_token_to_act_as_another_user(
    stack: Stack, admin: Admin
) -> None:
    editor = await _editor(stack, admin, "users:update")
    target = await stack.user(["products:read"])
    other_admin = await stack.user(admin=True)
    for victim in (target, other_admin):
        enabled = await stack.call("POST", f"/api/users/{victim.id}/api-access", json={"enabled": True}, headers=editor)
        assert enabled.status == 403
        assert "token" not in enabled.json()
    await admin.enable_api_token(target)
    for method, path in (("GET", "api-token"), ("POST", "api-token/regenerate")):
        answer = await stack.call(method, f"/api/users/{target.id}/{path}", headers=editor)
        assert answer.status == 403, path
        assert "token" not in answer.json()


async def test_a_holder_of_only_users_update_cannot_reactivate_a_deactivated_user(stack: Stack, admin: Admin) -> None:
    target = await stack.user(["products:read"])
    token = await admin.enable_api_token(target)
    assert (await admin.call("PATCH", f"/api/users/{target.id}", json={"is_active": False})).status == 200
    editor = await _editor(stack, admin, "users:update", "products:read")
    answer = await stack.call("PATCH", f"/api/users/{target.id}", json={"is_active": True}, headers=editor)
    assert answer.status == 403
    assert (await admin.call("GET", f"/api/users/{target.id}")).json()["is_active"] is False
    assert await _reads_products(stack, target, token) == 401


async def test_an_admin_reactivates_a_deactivated_user(stack: Stack, admin: Admin) -> None:
    target = await stack.user(["products:read"])
    token = await admin.enable_api_token(target)
    assert (await admin.call("PATCH", f"/api/users/{target.id}", json={"is_active": False})).status == 200
    assert (await admin.call("PATCH", f"/api/users/{target.id}", json={"is_active": True})).status == 200
    assert await _reads_products(stack, target, token) == 200


async def test_a_holder_of_only_users_update_cannot_grant_a_right_they_do_not_hold(stack: Stack, admin: Admin) -> None:
    editor_user = await stack.user(["users:update"])
    editor = {"X-API-Key": await admin.api_key_for(editor_user)}
    target = await stack.user()
    for user_id in (target.id, editor_user.id):
        answer = await stack.call(
            "PUT", f"/api/users/{user_id}/permissions", json={"permissions": ["products:read"]}, headers=editor
        )
        assert answer.status == 403
    promoted = await stack.call("PATCH", f"/api/users/{editor_user.id}", json={"is_admin": True}, headers=editor)
    assert promoted.status == 403
    created = await stack.call(
        "POST", "/api/users", json={"username": "sec-minted", "permissions": ["products:read"]}, headers=editor
    )
    assert created.status == 403
    for user in (target, editor_user):
        assert (await admin.call("GET", f"/api/users/{user.id}")).json()["permissions"] == list(user.permissions)


async def test_the_panel_shows_an_editor_no_token_of_a_user_with_more_rights(stack: Stack, admin: Admin) -> None:
    target = await stack.user(TARGET_RIGHTS)
    token = await admin.enable_api_token(target)
    editor = await stack.user(["users:read", "users:update"])
    async with stack.browser() as browser:
        await stack.sign_in(browser, editor)
        page = await browser.get(f"/panel/users/{target.id}")
        text = await page.text()
        assert page.status == 200
        assert token not in text
        csrf = hidden_fields(text)["csrf_token"]
        enabled = await browser.post(f"/panel/users/{target.id}/api-access", data={"csrf_token": csrf})
        assert enabled.status == 403
        regenerated = await browser.post(f"/panel/users/{target.id}/api-token/regenerate", data={"csrf_token": csrf})
        assert regenerated.status == 403
        assert "cpt_" not in await regenerated.text()
    assert await _reads_products(stack, target, token) == 200


async def test_the_panel_shows_the_admin_the_token_but_the_tick_box_never_hands_it_out_again(stack: Stack) -> None:
    target = await stack.user(TARGET_RIGHTS)
    panel_admin = await stack.user(admin=True)
    async with stack.browser() as browser:
        await stack.sign_in(browser, panel_admin)
        page = await browser.get(f"/panel/users/{target.id}")
        csrf = hidden_fields(await page.text())["csrf_token"]
        enabled = await browser.post(f"/panel/users/{target.id}/api-access", data={"csrf_token": csrf})
        assert enabled.status == 200
        token = (await enabled.json())["token"]
        again = await browser.post(f"/panel/users/{target.id}/api-access", data={"csrf_token": csrf})
        assert again.status == 409
        assert token not in await again.text()
        shown = await browser.get(f"/panel/users/{target.id}")
        assert token in await shown.text()
