"""HTTPS wherever a secret travels: credentials of every kind, the authorization server, the login and consent pages,
the panel, api.php's flow. A client beyond the trusted proxy on plain HTTP is refused before anything reaches the
backend; over HTTPS it is served, and every HTTPS answer carries Strict-Transport-Security.

The test client plays the TLS-terminating proxy (TRUSTED_PROXIES=127.0.0.1) relaying for an outside address, so the
gateway's loopback exception does not apply; one test talks TLS to the gateway itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.auth.oauth.keys import OAUTH
from tests.conftest import self_signed_certificate
from tests.security._protocol_stack import (
    ProtocolStack,
    StartStack,
    basic_header,
    from_outside,
    pkce_pair,
    protocol_stacks,
)

BEHIND_PROXY = {"TRUSTED_PROXIES": "127.0.0.1"}
HSTS = "Strict-Transport-Security"


@pytest.fixture
async def start_stack(base_env: dict[str, str]) -> AsyncIterator[StartStack]:
    async with protocol_stacks(base_env) as start:
        yield start


async def _answer(stack: ProtocolStack, method: str, path: str, proto: str, **kwargs: object) -> tuple[int, dict, str]:
    headers = {**from_outside(proto), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    async with stack.http.request(method, stack.gateway + path, headers=headers, allow_redirects=False, **kwargs) as r:
        body = await r.json() if r.content_type == "application/json" else {}
        return r.status, body, r.headers.get(HSTS, "")


def _https_required(status: int, body: dict) -> bool:
    """The platform's JSON error, or api.php's own envelope on its routes."""
    error = body.get("error")
    if isinstance(error, dict):
        return status == 403 and error["code"] == "https_required"
    return status == 403 and error == "access_denied" and "HTTPS" in body.get("error_description", "")


def _secret_bearing_requests(app: dict[str, str]) -> list[tuple[str, str, dict[str, object]]]:
    client = basic_header(app["client_id"], app["client_secret"])
    _, challenge = pkce_pair()
    authorize = (
        f"/auth/oauth/authorize?client_id={app['client_id']}&response_type=code&state=s&scope=read"
        f"&code_challenge={challenge}&code_challenge_method=S256"
    )
    return [
        ("GET", authorize, {}),
        ("POST", "/auth/oauth/token", {"data": {"grant_type": "client_credentials"}, "headers": client}),
        ("POST", "/auth/oauth/revoke", {"data": {"token": "x" * 40}, "headers": client}),
        ("POST", "/auth/oauth/introspect", {"data": {"token": "x" * 40}, "headers": client}),
        ("GET", "/auth/login", {}),
        ("POST", "/auth/login", {"data": {"username": "admin", "password": "guess", "csrf_token": "x"}}),
        ("GET", "/panel/", {}),
        ("GET", "/panel/api-keys", {}),
        ("GET", "/api.php/auth?response_type=code&client_id=c1&client_name=C&scope=shop", {}),
        ("POST", "/api.php/token", {"data": {"code": "0" * 32, "client_id": "c1", "grant_type": "authorization_code"}}),
    ]


async def test_the_authorization_server_login_and_panel_refuse_plain_http(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env=BEHIND_PROXY)
    app = await stack.register_app(grant_types=["authorization_code", "refresh_token", "client_credentials"])
    for method, path, options in _secret_bearing_requests(app):
        status, body, hsts = await _answer(stack, method, path, "http", **options)
        assert _https_required(status, body), (method, path, status, body)
        assert hsts == ""


async def test_the_same_requests_over_https_reach_the_service_with_hsts(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env=BEHIND_PROXY)
    app = await stack.register_app(grant_types=["authorization_code", "refresh_token", "client_credentials"])
    for method, path, options in _secret_bearing_requests(app):
        status, body, hsts = await _answer(stack, method, path, "https", **options)
        assert not _https_required(status, body), (method, path)
        assert status != 403 or path == "/auth/login", (method, path, status)  # a forged login form: 403 CSRF
        assert hsts == "max-age=31536000", (method, path)


async def test_a_client_credentials_token_is_issued_over_https_from_outside(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env=BEHIND_PROXY)
    app = await stack.register_app(grant_types=["client_credentials"])
    options = {
        "data": {"grant_type": "client_credentials"},
        "headers": basic_header(app["client_id"], app["client_secret"]),
    }
    status, body, _ = await _answer(stack, "POST", "/auth/oauth/token", "https", **options)
    assert status == 200 and body["access_token"]


async def test_bearer_tokens_api_keys_and_api_php_tokens_are_refused_over_plain_http(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env=BEHIND_PROXY)
    user = await stack.user(permissions=frozenset({"products:read", "api_keys:read", "api_keys:create"}))
    bearer = (await stack.tokens_for(await stack.register_app(), user))["access_token"]
    key = await stack.api_key(user)
    attempts = [
        ("/api/me", {"headers": {"Authorization": f"Bearer {bearer}"}}),
        ("/api/me", {"headers": {"X-API-Key": key}}),
        ("/api.php/shop.product.getList?access_token=" + "a" * 32, {}),
        ("/api/me", {}),
    ]
    for path, options in attempts:
        status, body, _ = await _answer(stack, "GET", path, "http", **options)
        assert _https_required(status, body), path
        https_status, _, hsts = await _answer(stack, "GET", path, "https", **options)
        assert https_status != 403 and hsts, path
    ok, _, _ = await _answer(stack, "GET", "/api/me", "https", headers={"Authorization": f"Bearer {bearer}"})
    assert ok == 200


async def test_metadata_and_keys_carry_no_secret_and_answer_over_plain_http(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env=BEHIND_PROXY)
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/jwks.json"):
        status, _, hsts = await _answer(stack, "GET", path, "http")
        assert status == 200 and hsts == "", path


async def test_a_loopback_client_is_exempt_and_gets_no_hsts_over_http(start_stack: StartStack) -> None:
    stack = await start_stack()
    browser = await stack.browser()
    response = await browser.get("/auth/login")
    assert response.status == 200 and HSTS not in response.headers


async def test_allow_insecure_http_lets_an_outside_client_through(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env={**BEHIND_PROXY, "ALLOW_INSECURE_HTTP": "true"})
    status, _, hsts = await _answer(stack, "GET", "/auth/login", "http")
    assert status == 200 and hsts == ""


async def test_an_outside_address_claiming_https_without_a_trusted_proxy_is_not_believed(
    start_stack: StartStack,
) -> None:
    # The proxy list names another network: the forwarded headers of this peer are the client's own claims.
    stack = await start_stack(gateway_env={"TRUSTED_PROXIES": "10.0.0.0/8"})
    status, _, hsts = await _answer(stack, "GET", "/auth/login", "https")
    assert status == 200 and hsts == ""  # served as the loopback client it is, never told it is on HTTPS


async def test_a_gateway_serving_tls_itself_sends_hsts_on_every_answer(start_stack: StartStack, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    stack = await start_stack(
        gateway_env={"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key), "HSTS_MAX_AGE": "63072000"}
    )
    assert stack.gateway.startswith("https://")
    for path, expected in (("/auth/login", 200), ("/api/me", 401), ("/nowhere", 404), ("/healthz", 200)):
        async with stack.http.get(stack.gateway + path, allow_redirects=False) as response:
            assert response.status == expected, path
            assert response.headers[HSTS] == "max-age=63072000", path


async def test_a_panel_session_cookie_is_never_accepted_over_plain_http(start_stack: StartStack) -> None:
    stack = await start_stack(gateway_env=BEHIND_PROXY)
    user = await stack.user()
    async with stack.pool.acquire() as conn:
        session = await stack.auth_app[OAUTH].sessions.start(conn, user["id"], user["username"])
    cookie = {"Cookie": f"oauth_session={session.id}"}
    status, body, _ = await _answer(stack, "GET", "/panel/", "http", headers=cookie)
    assert _https_required(status, body)
    status, _, _ = await _answer(stack, "GET", "/panel/", "https", headers=cookie)
    assert status == 200
