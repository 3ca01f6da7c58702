"""'Create a Developer Account': a signed-in user becomes a developer, after an admin's approval or at
once as the operator sets DEVELOPER_SIGNUP, then creates an app whose credentials work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from services.auth import db
from services.auth.app import create_app
from services.auth.config import Config
from services.auth.keys import POOL
from services.auth.oauth.keys import OAUTH
from tests.panel.conftest import Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _create_app(page: Any, name: str) -> tuple[str, str]:
    await page.fill("#name", name)
    await page.fill("#redirect_uris", "https://app.example.com/callback")
    await page.check("input[name='grant_types'][value='client_credentials']")
    await page.click("button:has-text('Create App')")
    await page.wait_for_selector("#client_secret")
    return await page.input_value("#client_id"), await page.input_value("#client_secret")


async def _permissions(panel: Panel, user: dict[str, Any]) -> frozenset[str]:
    async with panel.server.app[POOL].acquire() as conn:
        return await db.get_permissions(conn, user["id"])


async def test_a_request_waits_for_an_admin_who_approves_it(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"products:read"})
    await signed_in(page, panel, user, "/panel/developers")
    await page.fill("#reason", "A stock sync app")
    await page.click("button:has-text('Create a Developer Account')")
    assert "waits for an admin" in await page.inner_text("main")
    assert "apps:create" not in await _permissions(panel, user)
    assert (await page.goto("/panel/apps/new")).status == 403

    admin = await panel.user(admin=True)
    await page.context.clear_cookies()
    await signed_in(page, panel, admin, "/panel/developers")
    row = page.locator("tr", has_text=user["username"])
    assert "A stock sync app" in await row.inner_text()
    await row.locator(f"button:has-text('Approve {user['username']}')").click()
    assert "approved" in await page.inner_text(".notice")

    await page.context.clear_cookies()
    await signed_in(page, panel, user, "/panel/developers")
    await page.click("text=Create New App")
    client_id, secret = await _create_app(page, "Approved developer's app")
    assert await panel.client_credentials_status(client_id, secret) == 200
    assert {"apps:read", "apps:create", "apps:update", "apps:delete"} <= await _permissions(panel, user)


async def test_a_declined_request_grants_nothing_and_may_be_asked_again(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"products:read"})
    await signed_in(page, panel, user, "/panel/developers")
    await page.click("button:has-text('Create a Developer Account')")
    admin = await panel.user(admin=True)
    await page.context.clear_cookies()
    await signed_in(page, panel, admin, "/panel/developers")
    await page.click(f"button:has-text('Decline {user['username']}')")
    assert "declined" in await page.inner_text(".notice")
    assert "apps:create" not in await _permissions(panel, user)
    await page.context.clear_cookies()
    await signed_in(page, panel, user, "/panel/developers")
    assert "declined" in await page.inner_text("main")
    assert await page.locator("button:has-text('Create a Developer Account')").count() == 1


async def test_only_an_admin_decides_developer_requests(page: Any, panel: Panel) -> None:
    applicant = await panel.user(permissions={"products:read"})
    await signed_in(page, panel, applicant, "/panel/developers")
    await page.click("button:has-text('Create a Developer Account')")
    csrf = await page.input_value("form[action='/auth/logout'] input[name='csrf_token']")
    response = await page.request.post(f"/panel/developers/{applicant['id']}/approve", form={"csrf_token": csrf})
    assert response.status == 403
    assert "apps:create" not in await _permissions(panel, applicant)


@pytest_asyncio.fixture(loop_scope="package")
async def open_signup(panel: Panel) -> AsyncIterator[str]:
    """The same service with DEVELOPER_SIGNUP=open."""
    server = TestServer(create_app(Config.from_env({**panel.env, "DEVELOPER_SIGNUP": "open"})), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_without_approval_the_user_is_a_developer_at_once(page: Any, panel: Panel, open_signup: str) -> None:
    user = await panel.user(permissions={"products:read"})
    async with panel.server.app[POOL].acquire() as conn:
        session = await panel.server.app[OAUTH].sessions.start(conn, user["id"], user["username"])
    await page.context.add_cookies([{"name": "oauth_session", "value": session.id, "url": open_signup}])
    await page.goto(f"{open_signup}/panel/developers")
    assert "You become a developer at once" in await page.inner_text("main")
    await page.click("button:has-text('Create a Developer Account')")
    assert page.url.endswith("/panel/apps/new")
    client_id, secret = await _create_app(page, "Instant developer's app")
    assert await panel.client_credentials_status(client_id, secret, open_signup) == 200
