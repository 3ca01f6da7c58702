"""The control panel's Webhooks pages (in the auth service), calling the real webhooks service for the signed-in
user: list, create (the secret shown once), a refused address, the delivery log, re-send, delete."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.auth import accounts
from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.auth.context import operator_principal
from services.auth.keys import CONTEXT, POOL
from services.auth.oauth.keys import OAUTH
from services.auth.web.session_cookie import SESSION_COOKIE
from services.webhooks.app import create_app as create_webhooks
from services.webhooks.config import Config as WebhooksConfig
from shared.platform_events import ApiKeyCreated, new_event_id, now_iso
from tests.webhooks.conftest import WEBHOOK_RIGHTS, Receiver, publish_event

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def panel(base_env: dict[str, str]) -> AsyncIterator[tuple[str, Any]]:
    """The auth service (with its panel) and the webhooks service, each knowing the other's URL."""
    webhooks_port = _free_port()
    auth_app = create_auth(AuthConfig.from_env({**base_env, "WEBHOOKS_URL": f"http://127.0.0.1:{webhooks_port}"}))
    auth = TestServer(auth_app, host="127.0.0.1")
    await auth.start_server()
    auth_url = str(auth.make_url("")).rstrip("/")
    webhooks_env = {
        **base_env,
        "AUTH_URL": auth_url,
        "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOKS_RETRY_SCHEDULE": "300ms,300ms,300ms",
        "WEBHOOKS_OWNER_CACHE_SECONDS": "0",
    }
    webhooks = TestServer(create_webhooks(WebhooksConfig.from_env(webhooks_env)), host="127.0.0.1", port=webhooks_port)
    await webhooks.start_server()
    try:
        yield auth_url, auth_app
    finally:
        await webhooks.close()
        await auth.close()


async def _signed_in(auth_url: str, app: Any, *permissions: str) -> tuple[aiohttp.ClientSession, dict[str, Any]]:
    user = await accounts.create_user(
        app[CONTEXT],
        operator_principal(),
        username=f"panel-{new_event_id()[-8:]}",
        email=None,
        password=None,
        is_admin=False,
        permissions=frozenset(permissions) | WEBHOOK_RIGHTS,
    )
    async with app[POOL].acquire() as conn:
        session = await app[OAUTH].sessions.start(conn, user["id"], user["username"])
    jar = aiohttp.CookieJar(unsafe=True)
    client = aiohttp.ClientSession(auth_url, cookie_jar=jar)
    jar.update_cookies({SESSION_COOKIE: session.id}, response_url=client._base_url)  # type: ignore[arg-type]
    return client, user


async def _csrf(client: aiohttp.ClientSession, path: str) -> str:
    async with client.get(path) as page:
        match = CSRF.search(await page.text())
    assert match is not None
    return match.group(1)


async def test_a_user_manages_webhooks_and_their_log_in_the_panel(
    panel: tuple[str, Any], receiver: Receiver, amqp_url: str, bus_prefix: str
) -> None:
    auth_url, app = panel
    client, user = await _signed_in(auth_url, app, "api_keys:read")
    async with client:
        async with client.get("/panel/webhooks") as page:
            assert page.status == 200 and "No webhook subscriptions yet." in await page.text()
        csrf = await _csrf(client, "/panel/webhooks/new")
        refused = {"csrf_token": csrf, "url": "http://169.254.169.254/", "events": "api_key.created", "active": "on"}
        async with client.post("/panel/webhooks", data=refused) as page:
            assert page.status == 400 and "cloud metadata" in await page.text()
        form = {"csrf_token": csrf, "url": receiver.url, "events": "api_key.created", "active": "on"}
        async with client.post("/panel/webhooks", data=form) as page:
            shown = await page.text()
            assert page.status == 201
        secret = re.search(r'value="(whsec_[^"]+)"', shown)
        assert secret is not None
        async with client.get("/panel/webhooks") as page:
            listing = await page.text()
        assert receiver.url in listing and secret.group(1) not in listing
        subscription_id = re.search(r'href="/panel/webhooks/([0-9a-f-]{36})/deliveries"', listing).group(1)  # type: ignore[union-attr]

        event = ApiKeyCreated(
            event_id=new_event_id(), occurred_at=now_iso(), key_id="k1", user_id=user["id"], name="n", prefix="cap_x"
        )
        await publish_event(amqp_url, bus_prefix, event)
        (arrival,) = await receiver.wait_for(1)
        arrival.verified(secret.group(1))
        log_path = f"/panel/webhooks/{subscription_id}/deliveries"
        async with client.get(log_path) as page:
            log = await page.text()
        assert arrival.webhook_id in log and "HTTP 200" in log
        resend_path = f"{log_path}/{arrival.webhook_id}/resend"
        async with client.post(resend_path, data={"csrf_token": csrf}, allow_redirects=False) as answer:
            assert answer.status == 303
        again = (await receiver.wait_for(2))[1]
        assert again.webhook_id == arrival.webhook_id
        delete_path = f"/panel/webhooks/{subscription_id}/delete"
        async with client.post(delete_path, data={"csrf_token": csrf}, allow_redirects=False) as answer:
            assert answer.status == 303
        async with client.get("/panel/webhooks") as page:
            assert "No webhook subscriptions yet." in await page.text()


async def test_a_panel_form_without_the_csrf_token_is_refused(panel: tuple[str, Any], receiver: Receiver) -> None:
    auth_url, app = panel
    client, _ = await _signed_in(auth_url, app)
    async with client:
        form = {"url": receiver.url, "events": "import.completed", "active": "on"}
        async with client.post("/panel/webhooks", data=form) as page:
            assert page.status == 403
        async with client.get("/panel/webhooks") as page:
            assert "No webhook subscriptions yet." in await page.text()
