"""Plugins (plugin authorization), on the admins' page and through the management API at the gateway:
registered plugins get credentials that work at the token endpoint, shown once; revoked ones stop working."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import pytest

from tests.panel.conftest import Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _token(panel: Panel, client_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    """The client credentials grant, as a plugin does it at API_BASE_URL (the gateway)."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "read"}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{panel.gateway}/auth/oauth/token", data=form) as response:
            return response.status, await response.json()


async def _api(panel: Panel, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{panel.gateway}{path}", json=body, headers={"X-API-Key": key}) as response:
            return response.status, await response.json() if response.content_length != 0 else None


async def test_admin_registers_a_plugin_and_its_credentials_work(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    name = f"stock-sync-{secrets.token_hex(3)}"
    await signed_in(page, panel, admin, "/panel/plugins")
    await page.fill("#name", name)
    await page.check("input[name='permission'][value='products:update']")
    await page.click("button:has-text('Register Plugin')")
    client_id = await page.input_value("#plugin_client_id")
    secret = await page.input_value("#plugin_client_secret")
    assert await page.input_value("#plugin_api_base_url")
    assert "only place it is shown" in await page.inner_text("main")
    status, token = await _token(panel, client_id, secret)
    assert status == 200 and token["token_type"].lower() == "bearer"

    await page.goto("/panel/plugins")
    row = page.locator("tr", has_text=name)
    assert client_id in await row.inner_text() and "products:update" in await row.inner_text()
    assert secret not in await page.content()

    await row.locator(f"button:has-text('Revoke {name}')").click()
    assert "revoked" in await page.inner_text(".notice")
    assert (await _token(panel, client_id, secret))[0] == 401
    status, audit = await _api(panel, "GET", f"/api/audit?actor_user_id={admin['id']}", await panel.api_key(admin))
    assert [entry["event"] for entry in audit["value"] if entry["credential_id"] == client_id] == [
        "plugin.revoked",
        "plugin.registered",
    ]


async def test_a_new_secret_replaces_the_old_one(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    status, registered = await _api(
        panel, "POST", "/api/plugins", await panel.api_key(admin), {"name": f"p-{secrets.token_hex(3)}"}
    )
    assert status == 201
    old = registered["environment"]["OAUTH_CLIENT_SECRET"]
    await signed_in(page, panel, admin, "/panel/plugins")
    await page.click(f"button:has-text('New secret for {registered['name']}')")
    new = await page.input_value("#plugin_client_secret")
    assert new != old
    assert (await _token(panel, registered["client_id"], new))[0] == 200
    assert (await _token(panel, registered["client_id"], old))[0] == 401


async def test_a_plugin_host_registers_a_plugin_through_the_gateway(panel: Panel) -> None:
    admin = await panel.user(admin=True)
    host_key = await panel.api_key(admin, scope=frozenset({"plugins:create", "plugins:read", "products:read"}))
    name = f"loaded-{secrets.token_hex(3)}"
    status, body = await _api(panel, "POST", "/api/plugins", host_key, {"name": name, "permissions": ["products:read"]})
    assert status == 201, body
    environment = body["environment"]
    assert set(environment) == {"OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "API_BASE_URL"}
    status, _ = await _token(panel, environment["OAUTH_CLIENT_ID"], environment["OAUTH_CLIENT_SECRET"])
    assert status == 200
    status, listed = await _api(panel, "GET", "/api/plugins", host_key)
    assert status == 200 and name in [plugin["name"] for plugin in listed["value"]]
    assert "OAUTH_CLIENT_SECRET" not in str(listed)
    again = {"name": name, "permissions": ["products:read"]}
    assert (await _api(panel, "POST", "/api/plugins", host_key, again))[0] == 409


async def test_a_host_key_cannot_give_a_plugin_more_than_its_scope(panel: Panel) -> None:
    admin = await panel.user(admin=True)
    host_key = await panel.api_key(admin, scope=frozenset({"plugins:create", "products:read"}))
    body = {"name": f"greedy-{secrets.token_hex(3)}", "permissions": ["orders:delete"]}
    status, answer = await _api(panel, "POST", "/api/plugins", host_key, body)
    assert status == 403, answer


async def test_plugins_need_the_permission_and_an_admin_user(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    narrow = await panel.api_key(admin, scope=frozenset({"products:read"}))
    assert (await _api(panel, "POST", "/api/plugins", narrow, {"name": "refused"}))[0] == 403
    user = await panel.user(permissions={"products:read", "apps:read"})
    assert (await _api(panel, "GET", "/api/plugins", await panel.api_key(user)))[0] == 403
    await signed_in(page, panel, user, "/panel/")
    assert await page.locator("header nav >> text=Plugins").count() == 0
    assert (await page.goto("/panel/plugins")).status == 403
    granted = await panel.user(permissions={"plugins:create", "plugins:read", "products:read"})
    status, answer = await _api(
        panel,
        "POST",
        "/api/plugins",
        await panel.api_key(granted),
        {"name": "not-admin", "permissions": ["products:read"]},
    )
    assert (status, answer["error"]["message"]) == (403, "Only an admin can register a plugin")
