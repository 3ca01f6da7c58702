"""The Webhooks pages in a real browser, against the real webhooks service: a subscription made on the page is the
one the webhooks API then lists, and its signing secret is shown once."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer

from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.webhooks.app import create_app as create_webhooks
from services.webhooks.config import Config as WebhooksConfig
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.panel.conftest import LAPTOP, PHONE, Panel, axe_violations, screenshot, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")

WEBHOOK_RIGHTS = {"webhooks:read", "webhooks:create", "webhooks:update", "webhooks:delete", "api_keys:read"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture(loop_scope="package")
async def stack(base_env: dict[str, str]) -> AsyncIterator[tuple[Panel, str]]:
    """The auth service (its pages) pointed at the webhooks service, and the webhooks service's URL."""
    webhooks_port = _free_port()
    webhooks_url = f"http://127.0.0.1:{webhooks_port}"
    config = AuthConfig.from_env({**base_env, "WEBHOOKS_URL": webhooks_url})
    auth = TestServer(create_auth(config), host="127.0.0.1")
    await auth.start_server()
    auth_url = str(auth.make_url("")).rstrip("/")
    webhooks_env = {**base_env, "AUTH_URL": auth_url, "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8"}
    webhooks = TestServer(create_webhooks(WebhooksConfig.from_env(webhooks_env)), host="127.0.0.1", port=webhooks_port)
    await webhooks.start_server()
    try:
        yield Panel(auth_url, auth, config.common.signing_key.bytes), webhooks_url
    finally:
        await webhooks.close()
        await auth.close()


@pytest_asyncio.fixture(loop_scope="package")
async def webhooks_page(browser: Any, stack: tuple[Panel, str]) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=stack[0].url)
    context.set_default_timeout(10_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def _api_subscriptions(panel: Panel, webhooks_url: str, user: dict[str, Any]) -> list[dict[str, Any]]:
    """GET /api/webhooks as the gateway forwards it for the user's API key."""
    principal = Principal(
        user_id=user["id"],
        username=user["username"],
        is_admin=False,
        permissions=frozenset(user["permissions"]),
        credential_kind="api_key",
        credential_id=secrets.token_hex(8),
    )
    headers = {PRINCIPAL_HEADER: sign_principal(principal, panel.signing_key, "webhooks")}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{webhooks_url}/api/webhooks", headers=headers) as response:
            assert response.status == 200
            return (await response.json())["value"]


async def test_a_subscription_added_on_the_page_is_in_the_webhooks_api(
    webhooks_page: Any, stack: tuple[Panel, str]
) -> None:
    panel, webhooks_url = stack
    user = await panel.user(permissions=WEBHOOK_RIGHTS)
    page = webhooks_page
    await signed_in(page, panel, user, "/panel/")
    await page.click("nav >> text=Webhooks")
    assert "No webhook subscriptions yet." in await page.inner_text("main")
    await page.click("text=Add Webhook")
    endpoint = f"http://127.0.0.1:9/hooks/{secrets.token_hex(4)}"
    await page.get_by_label("Endpoint URL").fill(endpoint)
    await page.check("input[name='events'][value='import.completed']")
    await page.get_by_label("Description (optional)").fill("Nightly import watcher")
    await page.click("button:has-text('Add Webhook')")
    secret = await page.input_value("#webhook_secret")
    assert secret.startswith("whsec_")

    (subscription,) = await _api_subscriptions(panel, webhooks_url, user)
    assert subscription["url"] == endpoint
    assert subscription["events"] == ["import.completed"]
    assert subscription["description"] == "Nightly import watcher"
    assert subscription["active"] is True
    assert subscription["owner"]["userId"] == user["id"]

    await page.reload()  # the page that showed the secret left the history: a reload is the list, without it
    listing = await page.inner_text("main")
    assert endpoint in listing and secret not in listing


async def test_every_webhooks_page_is_accessible_and_fits_a_phone(
    webhooks_page: Any, stack: tuple[Panel, str], axe_script: str
) -> None:
    panel, webhooks_url = stack
    user = await panel.user(permissions=WEBHOOK_RIGHTS)
    page = webhooks_page
    await signed_in(page, panel, user, "/panel/webhooks/new")
    await page.get_by_label("Endpoint URL").fill(f"http://127.0.0.1:9/hooks/{secrets.token_hex(4)}")
    await page.check("input[name='events'][value='import.completed']")
    await page.click("button:has-text('Add Webhook')")
    await check_page(page, axe_script, "webhook-secret")
    (subscription,) = await _api_subscriptions(panel, webhooks_url, user)
    for name, path in (
        ("webhooks", "/panel/webhooks"),
        ("webhook-new", "/panel/webhooks/new"),
        ("webhook-edit", f"/panel/webhooks/{subscription['id']}"),
        ("webhook-deliveries", f"/panel/webhooks/{subscription['id']}/deliveries"),
    ):
        await page.goto(path)
        await check_page(page, axe_script, name)


async def check_page(page: Any, axe_script: str, name: str) -> None:
    """No serious or critical axe violation and no sideways scrolling, at laptop and phone width; a screenshot each."""
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await screenshot(page, f"{name}-{label}")
        assert await axe_violations(page, axe_script) == [], f"{name} at {label} width"
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {label} width"
