"""The api.php access tokens a user holds (docs/apiphp.md), listed on the Authorized Apps page and revoked from it, in a
real browser."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from services.auth.apiphp.tokens import credential_id
from tests.conftest import RevocationTap
from tests.panel.conftest import Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

PAGE = "/panel/authorized-apps"


def _revoke_path(token_id: str) -> str:
    return f"/panel/authorized-apps/apiphp-tokens/{token_id}/revoke"


async def _csrf_token(page: Any) -> str:
    return await page.locator("input[name='csrf_token']").first.get_attribute("value")


async def test_user_sees_their_token_with_the_client_name_escaped_and_revokes_it(
    page: Any, panel: Panel, revocations: RevocationTap
) -> None:
    user = await panel.user(permissions={"products:read"})
    client_name = f"<b>Shop</b> & <img src=x onerror=alert(1)> sync {secrets.token_hex(3)}"
    client_id = f"com.example.sync{secrets.token_hex(3)}"
    token, token_id = await panel.apiphp_token(user, client_id, client_name, ["shop"])
    assert await panel.verify_bearer(token) == 200

    await signed_in(page, panel, user, PAGE)
    assert "api.php access tokens" in await page.inner_text("main h2:nth-of-type(2)")
    row = page.locator("tr", has_text=client_id)
    cells = await row.locator("td").all_inner_texts()
    assert cells[:3] == [client_name, client_id, "shop"]  # shown as text, never as markup
    assert "UTC" in cells[3] and "UTC" in cells[4]  # created; last used by the verification above
    assert await page.locator("main b, main img").count() == 0
    content = await page.content()
    assert "&lt;b&gt;Shop&lt;/b&gt; &amp; &lt;img" in content
    assert token not in content  # only a keyed hash is stored: the value cannot be shown

    await row.locator("button:has-text('Revoke')").click()
    await page.wait_for_selector("text=access token was revoked")
    assert await page.locator("tr", has_text=client_id).count() == 0
    assert "You hold no api.php access token." in await page.inner_text("main")
    assert await panel.verify_bearer(token) == 401
    event = await revocations.wait_for(lambda event: event.credential_id == credential_id(token_id))
    assert event.user_id == user["id"]


async def test_last_use_is_shown_and_revoked_tokens_are_not_listed(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"products:read"})
    used, _ = await panel.apiphp_token(user, "com.example.used", "Used", ["shop"])
    assert await panel.verify_bearer(used) == 200  # the verification records the use
    await panel.apiphp_token(user, "com.example.unused", "Unused", ["shop", "photos"])
    _, revoked_id = await panel.apiphp_token(user, "com.example.gone", "Gone", ["shop"])
    await signed_in(page, panel, user, PAGE)
    revoked = await page.request.post(_revoke_path(revoked_id), form={"csrf_token": await _csrf_token(page)})
    assert revoked.ok
    await page.goto(PAGE)
    used_cells = await page.locator("tr", has_text="com.example.used").locator("td").all_inner_texts()
    assert "UTC" in used_cells[4]
    unused_cells = await page.locator("tr", has_text="com.example.unused").locator("td").all_inner_texts()
    assert unused_cells[2:5:2] == ["shop, photos", "never"]
    assert await page.locator("tr", has_text="com.example.gone").count() == 0


async def test_revoking_a_token_without_the_csrf_token_is_refused(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"products:read"})
    token, token_id = await panel.apiphp_token(user, "com.example.csrf", "CSRF target", ["shop"])
    await signed_in(page, panel, user, PAGE)
    response = await page.request.post(
        _revoke_path(token_id), form={"confirm": "yes"}
    )  # a cross-site form carries fields, never the token
    assert response.status == 403
    response = await page.request.post(_revoke_path(token_id), form={"csrf_token": "guessed"})
    assert response.status == 403
    assert await panel.verify_bearer(token) == 200
    await page.goto(PAGE)
    assert await page.locator("tr", has_text="com.example.csrf").count() == 1


async def test_another_users_token_is_neither_listed_nor_revocable(page: Any, panel: Panel) -> None:
    victim = await panel.user(permissions={"products:read"})
    client_id = f"com.example.victim{secrets.token_hex(3)}"
    token, token_id = await panel.apiphp_token(victim, client_id, "Victim's app", ["shop"])
    intruder = await panel.user(permissions={"products:read"})
    await signed_in(page, panel, intruder, PAGE)
    assert await page.locator("tr", has_text=client_id).count() == 0
    csrf_token = await _csrf_token(page)
    response = await page.request.post(_revoke_path(token_id), form={"csrf_token": csrf_token})
    assert response.status == 404
    response = await page.request.post(_revoke_path("not-a-uuid"), form={"csrf_token": csrf_token})
    assert response.status == 404
    assert await panel.verify_bearer(token) == 200
