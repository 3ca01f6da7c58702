"""Every page at laptop (1280x800) and phone (390x844) width: axe-core finds no serious or critical violation, and a
screenshot of each is written to var/screenshots/. Keyboard-only use: a key is created and revoked with Tab, Space
and Enter alone."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from services.auth import api_keys
from services.auth.context import operator_principal
from services.auth.keys import POOL
from services.auth.oauth.developer_apps import DeveloperApps, parse_app_settings
from services.auth.oauth.keys import OAUTH
from tests.panel.conftest import LAPTOP, PHONE, Panel, axe_violations, screenshot, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

Opener = Callable[[Any, Panel, dict[str, Any]], Awaitable[None]]


async def _submit(page: Any, path: str, fill: Callable[[Any], Awaitable[None]] | None, button: str) -> None:
    await page.goto(path)
    if fill is not None:
        await fill(page)
    await page.click(f"button:has-text('{button}')")
    await page.wait_for_load_state()


async def _app(panel: Panel, owner: dict[str, Any]) -> str:
    oauth = panel.server.app[OAUTH]
    settings = parse_app_settings(
        {"name": "Screenshot Shop", "redirect_uris": ["https://shop.example/cb"], "scopes": ["read"]},
        frozenset({"products:read"}),
        None,
    )
    async with panel.server.app[POOL].acquire() as conn:
        client_id, _ = await DeveloperApps(oauth.hasher, oauth.secret_cipher, oauth.tokens).create(
            conn, owner["id"], settings
        )
    return client_id


async def open_login(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    await page.context.clear_cookies()
    await page.goto("/auth/login?next=/panel/")


async def open_consent(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    client_id = await _app(panel, admin)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "https://shop.example/cb",
        "scope": "read",
        "state": "s",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    await page.goto("/auth/oauth/authorize?" + urlencode(query))


async def open_apiphp_access(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    query = {
        "client_id": "com.example.shop",
        "client_name": "Example Shop App",
        "response_type": "code",
        "scope": "shop",
        "redirect_uri": "https://shop.example/callback",
    }
    await page.goto("/api.php/auth?" + urlencode(query))


async def open_key_created(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    async def fill(form: Any) -> None:
        await form.fill("#name", "Inventory sync script")

    await _submit(page, "/panel/api-keys/new", fill, "Create API Key")


async def _admin_key(panel: Panel, admin: dict[str, Any]) -> str:
    created = await api_keys.create_key(
        panel.ctx, operator_principal(), name="Nightly export", expires_at=None, scope=None, owner_id=admin["id"]
    )
    return created["id"]


async def open_rotate(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    await page.goto(f"/panel/api-keys/{await _admin_key(panel, admin)}/rotate")


async def open_rotated(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    await _submit(page, f"/panel/api-keys/{await _admin_key(panel, admin)}/rotate", None, "Rotate API Key")


async def open_user_edit(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    target = await panel.user(permissions={"products:read", "orders:read"})
    await page.goto(f"/panel/users/{target['id']}")


async def open_reset_password(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    target = await panel.user()
    await page.goto(f"/panel/users/{target['id']}/password")


async def open_app_settings(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    await page.goto(f"/panel/apps/{await _app(panel, admin)}")


async def open_plugin_credentials(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    async def fill(form: Any) -> None:
        await form.fill("#name", f"stock-sync-{secrets.token_hex(2)}")

    await _submit(page, "/panel/plugins", fill, "Register Plugin")


async def open_developers_as_applicant(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    applicant = await panel.user(permissions={"products:read"})
    await page.context.clear_cookies()
    await signed_in(page, panel, applicant, "/panel/developers")


async def open_dashboard(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    await _admin_key(panel, admin)
    async with aiohttp.ClientSession() as session:
        for path in ("/api/keys", "/odata/Products?$top=1"):
            async with session.get(f"{panel.gateway}{path}") as response:
                await response.read()
    await page.goto("/panel/")


async def open_not_found(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
    await page.goto(f"/panel/{uuid.uuid4()}")


def plain(path: str) -> Opener:
    async def open_page(page: Any, panel: Panel, admin: dict[str, Any]) -> None:
        await page.goto(path)

    return open_page


PAGES: dict[str, Opener] = {
    "login": open_login,
    "oauth-consent": open_consent,
    "apiphp-access": open_apiphp_access,
    "dashboard": open_dashboard,
    "api-keys": plain("/panel/api-keys"),
    "api-key-new": plain("/panel/api-keys/new"),
    "api-key-created": open_key_created,
    "api-key-rotate": open_rotate,
    "api-key-rotated": open_rotated,
    "users": plain("/panel/users"),
    "user-new": plain("/panel/users/new"),
    "user-edit": open_user_edit,
    "user-reset-password": open_reset_password,
    "apps": plain("/panel/apps"),
    "app-new": plain("/panel/apps/new"),
    "app-settings": open_app_settings,
    "authorized-apps": plain("/panel/authorized-apps"),
    "password": plain("/panel/password"),
    "audit-log": plain("/panel/audit"),
    "developers": plain("/panel/developers"),
    "developers-applicant": open_developers_as_applicant,
    "plugins": plain("/panel/plugins"),
    "plugin-credentials": open_plugin_credentials,
    "not-found": open_not_found,
}


@pytest.mark.parametrize("name", list(PAGES))
async def test_page_has_no_serious_accessibility_violation_at_laptop_and_phone_width(
    page: Any, panel: Panel, axe_script: str, name: str
) -> None:
    admin = await panel.user(admin=True)
    await signed_in(page, panel, admin, "/panel/")
    await PAGES[name](page, panel, admin)
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await screenshot(page, f"{name}-{label}")
        assert await axe_violations(page, axe_script) == [], f"{name} at {label} width"
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {label} width"


async def test_a_key_is_created_and_revoked_with_the_keyboard_alone(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"api_keys:read", "api_keys:create", "api_keys:delete"})
    await signed_in(page, panel, user, "/panel/api-keys")

    async def tab_to(wanted: str) -> None:
        """Tab until the focused element has this text or this id."""
        for _ in range(80):
            await page.keyboard.press("Tab")
            focused = await page.evaluate(
                "[document.activeElement.id, (document.activeElement.textContent || '').trim()]"
            )
            if wanted in focused:
                return
        raise AssertionError(f"{wanted!r} cannot be reached with Tab")

    await tab_to("Create New API Key")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#name")
    await tab_to("name")
    await page.keyboard.type("Typed, not clicked")
    await tab_to("Create API Key")
    await page.keyboard.press("Enter")
    key = await page.input_value("#new_api_key")
    assert await panel.verify_key(key) == 200
    await page.goto("/panel/api-keys")
    await tab_to("Revoke")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=The API key was revoked")
    assert await panel.verify_key(key) == 401
