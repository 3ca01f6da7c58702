"""PKCE is required of every client by default, and every authorization response names its issuer (RFC 9207).

The attacks: a stolen or injected authorization code redeemed without the verifier of the browser that asked for it
(RFC 9700 section 4.5), a code obtained without any challenge, and a mix-up where the client cannot tell which server
answered (RFC 9207). All through the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.security._protocol_stack import (
    CALLBACK,
    ISSUER,
    StartStack,
    pkce_pair,
    protocol_stacks,
    query_of,
)


@pytest.fixture
async def start_stack(base_env: dict[str, str]) -> AsyncIterator[StartStack]:
    async with protocol_stacks(base_env) as start:
        yield start


def request_without_pkce(app: dict[str, str], state: str = "st") -> dict[str, str]:
    return {
        "client_id": app["client_id"],
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "read",
        "state": state,
    }


async def test_a_confidential_client_without_a_code_challenge_is_refused(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=frozenset({"products:read"})))
    response = await browser.authorize(request_without_pkce(app, "st-1"))
    assert response.status == 302
    query = query_of(response.headers["Location"])
    assert query["error"] == "invalid_request" and "PKCE" in query["error_description"]
    assert query["state"] == "st-1" and query["iss"] == ISSUER
    assert "code" not in query


async def test_a_public_client_without_a_code_challenge_is_refused(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app(client_type="public")
    browser = await stack.signed_in_browser(await stack.user(permissions=frozenset({"products:read"})))
    response = await browser.authorize(request_without_pkce(app))
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


async def test_a_stolen_code_cannot_be_redeemed_without_the_verifier(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=frozenset({"products:read"})))
    code, _, _ = await stack.code(browser, app)
    status, body = await stack.token(app, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK})
    assert status == 400 and body["error"] == "invalid_request"


async def test_an_injected_code_with_the_attackers_own_verifier_is_refused(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=frozenset({"products:read"})))
    code, _, _ = await stack.code(browser, app)
    attackers_verifier, _ = pkce_pair()
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    status, body = await stack.token(app, {**data, "code_verifier": attackers_verifier})
    assert status == 400 and body["error"] == "invalid_grant"


async def test_the_code_redirect_names_the_issuer_and_the_verifier_gets_tokens(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=frozenset({"products:read"})))
    code, verifier, query = await stack.code(browser, app)
    assert query["iss"] == ISSUER
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}
    status, body = await stack.token(app, data)
    assert status == 200 and body["token_type"] == "Bearer"
    async with stack.http.get(
        f"{stack.gateway}/api/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    ) as me:
        assert me.status == 200


async def test_a_denial_names_the_issuer_too(start_stack: StartStack) -> None:
    stack = await start_stack()
    app = await stack.register_app()
    browser = await stack.signed_in_browser(await stack.user(permissions=frozenset({"products:read"})))
    _, challenge = pkce_pair()
    page = await browser.authorize(
        {**request_without_pkce(app, "st-2"), "code_challenge": challenge, "code_challenge_method": "S256"}
    )
    query = query_of(await browser.allow(page, "deny"))
    assert query == {
        "error": "access_denied",
        "error_description": "The user denied access",
        "state": "st-2",
        "iss": ISSUER,
    }


async def test_the_metadata_says_the_iss_parameter_is_supported_and_only_s256(start_stack: StartStack) -> None:
    stack = await start_stack()
    async with stack.http.get(f"{stack.gateway}/.well-known/oauth-authorization-server") as response:
        metadata = await response.json()
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["issuer"] == ISSUER


async def test_the_operator_may_exempt_confidential_clients_only(start_stack: StartStack) -> None:
    stack = await start_stack(auth_env={"OAUTH_PKCE_REQUIRED": "public"})
    user = await stack.user(permissions=frozenset({"products:read"}))
    confidential = await stack.register_app()
    browser = await stack.signed_in_browser(user)
    page = await browser.authorize(request_without_pkce(confidential, "st-3"))
    query = query_of(await browser.allow(page))
    assert query["iss"] == ISSUER
    status, body = await stack.token(
        confidential, {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": CALLBACK}
    )
    assert status == 200, body
    public = await stack.register_app(client_type="public")
    refused = await browser.authorize(request_without_pkce(public))
    assert query_of(refused.headers["Location"])["error"] == "invalid_request"
