"""The Password page in a real browser: the user types the current and the new password, may tick the box that also
revokes their apps' refresh tokens, and every other session of theirs ends."""

from __future__ import annotations

from typing import Any

import pytest

from services.auth.oauth.keys import OAUTH
from tests.panel.conftest import PASSWORD, Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

NEW_PASSWORD = "another horse, battery staple"


async def test_changing_the_password_keeps_this_session_and_ends_the_others(page: Any, panel: Panel) -> None:
    user = await panel.user()
    async with panel.ctx.pool.acquire() as conn:
        other = await panel.server.app[OAUTH].sessions.start(conn, user["id"], user["username"])
    await signed_in(page, panel, user, "/panel/")
    await page.click("a:has-text('Password')")
    await page.fill("#current_password", PASSWORD)
    await page.fill("#new_password", NEW_PASSWORD)
    await page.get_by_label("Also sign out the applications", exact=False).check()
    await page.click("button:has-text('Change password')")
    await page.wait_for_load_state()
    assert "Every other session was signed out" in await page.text_content("[role=status]")
    async with panel.ctx.pool.acquire() as conn:
        assert await panel.server.app[OAUTH].sessions.load(conn, other.id) is None
    await page.goto("/panel/")
    assert page.url.endswith("/panel/")


async def test_a_wrong_current_password_is_shown_and_changes_nothing(page: Any, panel: Panel) -> None:
    user = await panel.user()
    await signed_in(page, panel, user, "/panel/password")
    await page.fill("#current_password", "not my password")
    await page.fill("#new_password", NEW_PASSWORD)
    await page.click("button:has-text('Change password')")
    await page.wait_for_load_state()
    assert "not correct" in await page.text_content("[role=alert]")
