"""api.php stays Webasyst-compatible, but its access page does not let an impostor hide where the token goes.

The attack: a phishing client that calls itself after a trusted application ("Shop Mobile") and sends the token to
its own host. api.php has no client registration, so the page says the application is unverified and shows the host
of redirect_uri, which the impostor cannot fake. The operator can give api.php tokens an expiry (APIPHP_TOKEN_TTL);
by default they never expire, as Webasyst's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from services.auth.apiphp.keys import APIPHP_TOKENS
from tests.security._protocol_stack import Browser, ProtocolStack, StartStack, hidden_fields, protocol_stacks, query_of

SHOP_RIGHTS = frozenset({"products:read", "categories:read", "customers:read", "orders:read"})
IMPOSTOR = "https://collector.evil.example/oauth/cb?next=https://shop.example"


@pytest.fixture
async def start_stack(base_env: dict[str, str], demo_data: None) -> AsyncIterator[StartStack]:
    async with protocol_stacks(base_env) as start:
        yield start


def access_request(redirect_uri: str | None, client_name: str = "Shop Mobile", response_type: str = "code") -> str:
    params = {"response_type": response_type, "client_id": "shop.mobile", "client_name": client_name, "scope": "shop"}
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    return f"/api.php/auth?{urlencode(params)}"


async def access_page(stack: ProtocolStack, redirect_uri: str | None, **params: str) -> tuple[Browser, str]:
    browser = await stack.signed_in_browser(await stack.user(permissions=SHOP_RIGHTS))
    response = await browser.get(access_request(redirect_uri, **params))
    assert response.status == 200, await response.text()
    return browser, await response.text()


async def token_through_the_flow(stack: ProtocolStack, browser: Browser, redirect_uri: str) -> dict[str, Any]:
    page = await browser.get(access_request(redirect_uri))
    allowed = await browser.post("/api.php/auth", {**hidden_fields(await page.text()), "decision": "allow"})
    code = query_of(allowed.headers["Location"])["code"]
    exchange = f"/api.php/token?{urlencode({'redirect_uri': redirect_uri, 'format': 'json'})}"
    async with stack.http.post(
        stack.gateway + exchange, data={"code": code, "client_id": "shop.mobile", "grant_type": "authorization_code"}
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def call_method(stack: ProtocolStack, token: str) -> int:
    async with stack.http.get(
        f"{stack.gateway}/api.php/shop.product.getList", params={"access_token": token, "limit": "1"}
    ) as response:
        return response.status


async def test_the_access_page_names_the_host_that_receives_the_token(start_stack: StartStack) -> None:
    stack = await start_stack()
    _, page = await access_page(stack, IMPOSTOR)
    assert "<strong><code>collector.evil.example</code></strong>" in page
    assert escape(IMPOSTOR) in page


async def test_the_access_page_marks_the_application_unverified(start_stack: StartStack) -> None:
    stack = await start_stack()
    _, page = await access_page(stack, IMPOSTOR, client_name="Shop <b>Official</b> App")
    assert "Unverified application" in page
    assert "Shop &lt;b&gt;Official&lt;/b&gt; App" in page and "<b>Official</b>" not in page


async def test_a_client_app_scheme_is_named_as_the_receiver(start_stack: StartStack) -> None:
    stack = await start_stack()
    _, page = await access_page(stack, "com.example.shop:/callback", response_type="token")
    assert "<code>com.example.shop:</code>" in page and "Unverified application" in page


async def test_without_redirect_uri_the_page_says_the_code_is_shown_here(start_stack: StartStack) -> None:
    stack = await start_stack()
    _, page = await access_page(stack, None)
    assert "shown on this page" in page and "Unverified application" in page


async def test_tokens_never_expire_by_default_as_webasyst(start_stack: StartStack) -> None:
    stack = await start_stack(odata=True)
    user = await stack.user(permissions=SHOP_RIGHTS)
    browser = await stack.signed_in_browser(user)
    answer = await token_through_the_flow(stack, browser, "https://shop.example/cb")
    assert set(answer) == {"access_token"}
    async with stack.pool.acquire() as conn:
        expires_at = await conn.fetchval("SELECT expires_at FROM auth.apiphp_tokens WHERE user_id = $1", user["id"])
    assert expires_at is None
    assert await call_method(stack, answer["access_token"]) == 200


async def test_an_operator_ttl_gives_tokens_an_expiry_after_which_they_are_refused(start_stack: StartStack) -> None:
    stack = await start_stack(
        auth_env={"APIPHP_TOKEN_TTL": "3600"}, gateway_env={"VERIFY_CACHE_MAX_AGE": "0"}, odata=True
    )
    user = await stack.user(permissions=SHOP_RIGHTS)
    browser = await stack.signed_in_browser(user)
    answer = await token_through_the_flow(stack, browser, "https://shop.example/cb")
    assert answer["expires_in"] == 3600
    token = answer["access_token"]
    assert await call_method(stack, token) == 200
    tokens = stack.auth_app[APIPHP_TOKENS]
    assert tokens.token_ttl == 3600
    # An hour passes: the stored expiry is moved into the past rather than waiting for it.
    async with stack.pool.acquire() as conn:
        expires_at = await conn.fetchval("SELECT expires_at FROM auth.apiphp_tokens WHERE user_id = $1", user["id"])
        await conn.execute(
            "UPDATE auth.apiphp_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1", user["id"]
        )
    assert expires_at is not None
    assert await call_method(stack, token) == 401


async def test_a_client_app_token_in_the_fragment_carries_its_lifetime(start_stack: StartStack) -> None:
    stack = await start_stack(auth_env={"APIPHP_TOKEN_TTL": "600"})
    browser = await stack.signed_in_browser(await stack.user(permissions=SHOP_RIGHTS))
    page = await browser.get(access_request("com.example.shop:/callback", response_type="token"))
    allowed = await browser.post("/api.php/auth", {**hidden_fields(await page.text()), "decision": "allow"})
    fragment = parse_qs(urlsplit(allowed.headers["Location"]).fragment)
    assert fragment["expires_in"] == ["600"] and fragment["access_token"][0]
