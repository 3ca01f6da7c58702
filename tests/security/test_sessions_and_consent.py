"""A new password ends what the old one let in, and a consent is remembered only for what was allowed.

The attacks: someone who signed in with a stolen password keeps the session after the owner changes it (OWASP ASVS
3.3.3), or keeps the refresh token an app got while they held the account; an app that was allowed `read` quietly
gets `write` too. All through the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.security._protocol_stack import (
    CALLBACK,
    NEW_PASSWORD,
    PASSWORD,
    Browser,
    ProtocolStack,
    StartStack,
    hidden_fields,
    pkce_pair,
    protocol_stacks,
    query_of,
)

RIGHTS = frozenset({"products:read", "products:create", "api_keys:read", "api_keys:create"})


@pytest.fixture
async def start_stack(base_env: dict[str, str]) -> AsyncIterator[StartStack]:
    async with protocol_stacks(base_env) as start:
        yield start


async def change_password_by_api(stack: ProtocolStack, key: str, **extra: Any) -> dict[str, Any]:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, **extra}
    async with stack.http.post(f"{stack.gateway}/api/me/password", json=body, headers={"X-API-Key": key}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def refresh(stack: ProtocolStack, app: dict[str, Any], refresh_token: str) -> tuple[int, dict[str, Any]]:
    return await stack.token(app, {"grant_type": "refresh_token", "refresh_token": refresh_token})


async def bearer_status(stack: ProtocolStack, access_token: str) -> int:
    async with stack.http.get(
        f"{stack.gateway}/api/me", headers={"Authorization": f"Bearer {access_token}"}
    ) as response:
        return response.status


async def panel_form_post(browser: Browser, path: str, fields: dict[str, str]) -> Any:
    page = await browser.get(path)
    assert page.status == 200, await page.text()
    csrf = hidden_fields(await page.text())["csrf_token"]
    return await browser.post(path, {"csrf_token": csrf, **fields})


# --- password change and reset end the other sessions -----------------------------------------------------------


async def test_a_password_change_by_api_signs_out_every_panel_session(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    intruder = await stack.signed_in_browser(user)
    assert await intruder.signed_in_to_panel()
    answer = await change_password_by_api(stack, await stack.api_key(user))
    assert answer["sessions_ended"] >= 1
    assert not await intruder.signed_in_to_panel()
    assert (await (await stack.browser()).sign_in(user, PASSWORD)).status == 401
    assert (await (await stack.browser()).sign_in(user, NEW_PASSWORD)).status == 200


async def test_a_password_change_on_the_panel_keeps_this_session_and_ends_the_others(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    intruder = await stack.signed_in_browser(user)
    owner = await stack.signed_in_browser(user)
    response = await panel_form_post(
        owner, "/panel/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status == 303 and response.headers["Location"] == "/panel/password?done=changed"
    assert await owner.signed_in_to_panel()
    assert not await intruder.signed_in_to_panel()


async def test_a_wrong_current_password_on_the_panel_changes_nothing(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    other = await stack.signed_in_browser(user)
    owner = await stack.signed_in_browser(user)
    response = await panel_form_post(
        owner, "/panel/password", {"current_password": "not it", "new_password": NEW_PASSWORD}
    )
    assert response.status == 400
    assert await other.signed_in_to_panel()


async def test_an_admin_reset_signs_the_user_out_everywhere(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    victim_session = await stack.signed_in_browser(user)
    admin = await stack.signed_in_browser(await stack.user(admin=True))
    response = await panel_form_post(admin, f"/panel/users/{user['id']}/password", {"new_password": NEW_PASSWORD})
    assert response.status == 303
    assert not await victim_session.signed_in_to_panel()
    assert await admin.signed_in_to_panel()


async def test_only_an_admin_may_open_the_reset_form(start_stack: StartStack) -> None:
    stack = await start_stack()
    target = await stack.user(permissions=RIGHTS)
    manager = await stack.signed_in_browser(await stack.user(permissions=frozenset({"users:read", "users:update"})))
    response = await manager.get(f"/panel/users/{target['id']}/password")
    assert response.status == 403


# --- and, when asked, revoke the refresh tokens ------------------------------------------------------------------


async def test_without_the_option_the_apps_refresh_tokens_keep_working(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    app = await stack.register_app()
    tokens = await stack.tokens_for(app, user)
    answer = await change_password_by_api(stack, await stack.api_key(user))
    assert answer["access_tokens_revoked"] == 0
    status, _ = await refresh(stack, app, tokens["refresh_token"])
    assert status == 200


async def test_the_api_option_revokes_every_refresh_token_and_its_access_tokens(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    first, second = await stack.register_app(), await stack.register_app()
    first_tokens, second_tokens = await stack.tokens_for(first, user), await stack.tokens_for(second, user)
    assert await bearer_status(stack, first_tokens["access_token"]) == 200
    answer = await change_password_by_api(stack, await stack.api_key(user), revoke_refresh_tokens=True)
    assert answer["access_tokens_revoked"] == 2
    for app, tokens in ((first, first_tokens), (second, second_tokens)):
        status, body = await refresh(stack, app, tokens["refresh_token"])
        assert (status, body["error"]) == (400, "invalid_grant")
    assert await bearer_status(stack, first_tokens["access_token"]) == 401


async def test_the_panel_tick_box_revokes_the_refresh_tokens(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    app = await stack.register_app()
    tokens = await stack.tokens_for(app, user)
    owner = await stack.signed_in_browser(user)
    response = await panel_form_post(
        owner,
        "/panel/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "revoke_refresh_tokens": "yes"},
    )
    assert response.status == 303
    status, body = await refresh(stack, app, tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_the_revoke_option_must_be_a_boolean(start_stack: StartStack) -> None:
    stack = await start_stack()
    user = await stack.user(permissions=RIGHTS)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "revoke_refresh_tokens": "yes"}
    key = await stack.api_key(user)
    async with stack.http.post(f"{stack.gateway}/api/me/password", json=body, headers={"X-API-Key": key}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["target"] == "revoke_refresh_tokens"


# --- consent remembered per app and scope set ---------------------------------------------------------------------


def authorization(app: dict[str, Any], scope: str, **extra: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    return {
        "client_id": app["client_id"],
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": scope,
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


async def test_a_consent_is_remembered_for_the_scopes_allowed(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=RIGHTS))
    first = await browser.authorize(authorization(app, "read"))
    assert first.status == 200 and "Allow" in await first.text()
    await browser.allow(first)
    again = await browser.authorize(authorization(app, "read"))
    assert again.status == 302
    assert "code" in query_of(again.headers["Location"])


async def test_an_app_asking_for_more_scopes_is_asked_again_showing_what_is_new(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=RIGHTS))
    await browser.allow(await browser.authorize(authorization(app, "read")))
    more = await browser.authorize(authorization(app, "read write"))
    assert more.status == 200
    page = await more.text()
    assert "asks for more" in page and page.count("(new)") == 1
    location = await browser.allow(more, "deny")
    assert query_of(location)["error"] == "access_denied"
    still = await browser.authorize(authorization(app, "read write"))
    assert still.status == 200  # a denial grants nothing: asked again


async def test_prompt_consent_asks_even_when_remembered(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=RIGHTS))
    await browser.allow(await browser.authorize(authorization(app, "read")))
    prompted = await browser.authorize(authorization(app, "read", prompt="consent"))
    assert prompted.status == 200


async def test_another_users_consent_is_not_theirs(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    first = await stack.signed_in_browser(await stack.user(permissions=RIGHTS))
    await first.allow(await first.authorize(authorization(app, "read")))
    second = await stack.signed_in_browser(await stack.user(permissions=RIGHTS))
    assert (await second.authorize(authorization(app, "read"))).status == 200


async def test_the_authorized_apps_page_shows_the_consent_and_revoking_it_asks_again(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    user = await stack.user(permissions=RIGHTS)
    browser = await stack.signed_in_browser(user)
    await browser.allow(await browser.authorize(authorization(app, "read products:read")))
    listing = await browser.get("/panel/authorized-apps")
    page = await listing.text()
    assert app["name"] in page and "read products:read" in page
    csrf = hidden_fields(page)["csrf_token"]
    response = await browser.post(f"/panel/authorized-apps/{app['client_id']}/revoke", {"csrf_token": csrf})
    assert response.status == 303
    assert (await browser.authorize(authorization(app, "read"))).status == 200
