"""RFC 7662 section 2.2 through the gateway: a token is `active` only while it would be accepted, so never once its
user is deactivated or weakened, its client's owner deactivated, or the user's consent withdrawn."""

from __future__ import annotations

from typing import Any

from tests.security._revocation_stack import RevocationStack, post_form, revocation_stack

__all__ = ["revocation_stack"]


async def introspect(base_url: str, app: dict[str, Any], token: str) -> bool:
    status, body = await post_form(base_url, "/auth/oauth/introspect", {"token": token}, _client(app))
    assert status == 200, body
    return bool(body["active"])


def _client(app: dict[str, Any]) -> tuple[str, str]:
    return app["client_id"], app["client_secret"]


async def test_the_tokens_of_a_deactivated_user_are_inactive(revocation_stack: RevocationStack) -> None:
    stack = revocation_stack
    holder, bystander = await stack.reader(), await stack.reader()
    gateway = await stack.start_gateway()
    tokens, app = holder["tokens"], holder["app"]
    assert await introspect(gateway.url, app, tokens["access_token"])
    assert await introspect(gateway.url, app, tokens["refresh_token"])
    admin = await stack.oauth.user(admin=True, signs_in=False)
    response = await stack.oauth.browser.patch(
        f"/api/users/{holder['user']['id']}", json={"is_active": False}, headers=stack.oauth.as_user(admin)
    )
    assert response.status == 200
    assert not await introspect(gateway.url, app, tokens["access_token"])
    assert not await introspect(gateway.url, app, tokens["refresh_token"])
    assert await introspect(gateway.url, bystander["app"], bystander["tokens"]["access_token"])


async def test_a_token_issued_before_its_user_lost_a_permission_is_inactive(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    gateway = await stack.start_gateway()
    admin = await stack.oauth.user(admin=True, signs_in=False)
    response = await stack.oauth.browser.put(
        f"/api/users/{holder['user']['id']}/permissions",
        json={"permissions": ["orders:read"]},
        headers=stack.oauth.as_user(admin),
    )
    assert response.status == 200
    assert not await introspect(gateway.url, holder["app"], holder["tokens"]["access_token"])
    assert not await introspect(gateway.url, holder["app"], holder["tokens"]["refresh_token"])


async def test_the_tokens_of_an_app_whose_owner_is_deactivated_are_inactive(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    developer = await stack.oauth.developer()
    app = await stack.oauth.register_app(
        developer, grant_types=["authorization_code", "refresh_token", "client_credentials"]
    )
    user = await stack.oauth.user(permissions={"products:read"})
    delegated = await stack.oauth.tokens_for(app, user)
    gateway = await stack.start_gateway()
    status, own = await post_form(
        gateway.url, "/auth/oauth/token", {"grant_type": "client_credentials", "scope": "read"}, _client(app)
    )
    assert status == 200, own
    assert await introspect(gateway.url, app, own["access_token"])
    admin = await stack.oauth.user(admin=True, signs_in=False)
    response = await stack.oauth.browser.patch(
        f"/api/users/{developer['id']}", json={"is_active": False}, headers=stack.oauth.as_user(admin)
    )
    assert response.status == 200
    for token in (own["access_token"], delegated["access_token"], delegated["refresh_token"]):
        assert not await introspect(gateway.url, app, token)
    status, body = await post_form(
        gateway.url, "/auth/oauth/token", {"grant_type": "client_credentials", "scope": "read"}, _client(app)
    )
    assert status in (400, 401) and "access_token" not in body


async def test_the_tokens_of_a_withdrawn_consent_are_inactive(revocation_stack: RevocationStack) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    gateway = await stack.start_gateway()
    app, tokens = holder["app"], holder["tokens"]
    response = await stack.oauth.browser.delete(
        f"/api/authorizations/{app['client_id']}", headers=stack.oauth.as_user(holder["user"])
    )
    assert response.status == 204
    assert not await introspect(gateway.url, app, tokens["access_token"])
    assert not await introspect(gateway.url, app, tokens["refresh_token"])
