"""Developer apps (docs/oauth.md: "copy your Client ID and Client Secret from the application settings") and the apps a
user authorized, in a real browser."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import pytest

from services.auth.keys import POOL
from services.auth.oauth import db as oauth_db
from services.auth.oauth.developer_apps import DeveloperApps, parse_app_settings
from services.auth.oauth.keys import OAUTH
from tests.panel.conftest import Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

DEVELOPER = {"apps:read", "apps:create", "apps:update", "apps:delete", "products:read"}


async def _client_credentials_status(panel: Panel, client_id: str, secret: str) -> int:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{panel.url}/auth/oauth/token", data=form) as response:
            await response.read()
            return response.status


async def _create_app_in_browser(page: Any, name: str) -> tuple[str, str]:
    await page.goto("/panel/apps")
    await page.click("text=Create New App")
    await page.fill("#name", name)
    await page.check("input[name='client_type'][value='confidential']")
    await page.fill("#redirect_uris", "https://app.example.com/callback\nhttp://127.0.0.1:9000/cb")
    await page.check("input[name='grant_types'][value='client_credentials']")
    await page.click("button:has-text('Create App')")
    await page.wait_for_selector("#client_secret")
    return await page.input_value("#client_id"), await page.input_value("#client_secret")


async def test_developer_creates_an_app_and_reads_its_client_id_and_secret(page: Any, panel: Panel) -> None:
    developer = await panel.user(permissions=DEVELOPER)
    await signed_in(page, panel, developer, "/panel/apps")
    name = f"Shop sync {secrets.token_hex(3)}"
    client_id, secret = await _create_app_in_browser(page, name)
    assert client_id.startswith("cid_") and secret.startswith("ocs_")
    assert "https://app.example.com/callback" in await page.inner_text("main")
    assert await _client_credentials_status(panel, client_id, secret) == 200

    await page.goto("/panel/apps")
    await page.click(f"text={name}")
    assert await page.input_value("#client_secret") == secret  # the settings page shows it again


async def test_rotating_the_client_secret_replaces_it_at_once(page: Any, panel: Panel) -> None:
    developer = await panel.user(permissions=DEVELOPER)
    await signed_in(page, panel, developer, "/panel/apps")
    client_id, old = await _create_app_in_browser(page, f"Rotating {secrets.token_hex(3)}")
    await page.click("button:has-text('Rotate Client Secret')")
    await page.wait_for_selector("text=the previous one no longer works")
    new = await page.input_value("#client_secret")
    assert new != old
    assert await _client_credentials_status(panel, client_id, old) == 401
    assert await _client_credentials_status(panel, client_id, new) == 200


async def test_invalid_redirect_uri_is_refused_with_the_form_kept(page: Any, panel: Panel) -> None:
    developer = await panel.user(permissions=DEVELOPER)
    await signed_in(page, panel, developer, "/panel/apps/new")
    await page.fill("#name", "Plain http")
    await page.fill("#redirect_uris", "http://app.example.com/callback")
    await page.click("button:has-text('Create App')")
    assert "https" in await page.inner_text(".error")
    assert await page.input_value("#name") == "Plain http"


async def test_someone_elses_app_is_not_found_and_apps_need_apps_read(page: Any, panel: Panel) -> None:
    owner = await panel.user(permissions=DEVELOPER)
    settings = parse_app_settings({"name": "Private", "redirect_uris": ["https://a.example/cb"]}, frozenset(), None)
    oauth = panel.server.app[OAUTH]
    async with panel.server.app[POOL].acquire() as conn:
        client_id, _ = await DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens).create(
            conn, owner["id"], settings
        )
    other = await panel.user(permissions=DEVELOPER)
    await signed_in(page, panel, other, "/panel/apps")
    response = await page.goto(f"/panel/apps/{client_id}")
    assert response.status == 404
    nobody = await panel.user(permissions={"products:read"})
    await page.context.clear_cookies()
    await signed_in(page, panel, nobody, "/panel/")
    response = await page.goto("/panel/apps")
    assert response.status == 403


async def test_user_revokes_an_authorized_app(page: Any, panel: Panel) -> None:
    developer = await panel.user(permissions=DEVELOPER)
    settings = parse_app_settings(
        {"name": f"Reporting {secrets.token_hex(3)}", "redirect_uris": ["https://r.example/cb"]}, frozenset(), None
    )
    oauth = panel.server.app[OAUTH]
    user = await panel.user(permissions={"products:read"})
    async with panel.server.app[POOL].acquire() as conn:
        client_id, _ = await DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens).create(
            conn, developer["id"], settings
        )
        # What the consent page's Allow records (the consent flow itself belongs to the OAuth server's tests).
        await oauth_db.put_consent(conn, user["id"], client_id, ["read"])
    await signed_in(page, panel, user, "/panel/authorized-apps")
    row = page.locator("tr", has_text=settings.name)
    assert "read" in await row.inner_text()
    await row.locator("button:has-text('Revoke access')").click()
    await page.wait_for_selector("text=access was revoked")
    assert await page.locator("tr", has_text=settings.name).count() == 0
    async with panel.server.app[POOL].acquire() as conn:
        assert not await oauth_db.has_consent(conn, user["id"], client_id)
