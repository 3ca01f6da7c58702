"""Refreshing through the gateway (RFC 6749 section 6, RFC 9700 section 4.14): a narrower scope narrows the new access
token only, and rotation never extends a token family's absolute lifetime."""

from __future__ import annotations

from typing import Any

import jwt

from tests.security._revocation_stack import RevocationStack, call, post_form, revocation_stack

__all__ = ["revocation_stack"]


def _client(app: dict[str, Any]) -> tuple[str, str]:
    return app["client_id"], app["client_secret"]


async def refresh(base_url: str, app: dict[str, Any], token: str, scope: str | None = None) -> tuple[int, Any]:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    if scope is not None:
        data["scope"] = scope
    return await post_form(base_url, "/auth/oauth/token", data, _client(app))


async def introspection(base_url: str, app: dict[str, Any], token: str) -> dict[str, Any]:
    status, body = await post_form(base_url, "/auth/oauth/introspect", {"token": token}, _client(app))
    assert status == 200, body
    return dict(body)


async def test_a_narrower_refresh_narrows_the_access_token_and_keeps_the_refresh_tokens_scope(
    revocation_stack: RevocationStack,
) -> None:
    stack = revocation_stack
    app = await stack.oauth.register_app(await stack.oauth.developer())
    user = await stack.oauth.user(permissions={"products:read", "products:create"})
    tokens = await stack.oauth.tokens_for(app, user, scope="read write")
    gateway = await stack.start_gateway()
    status, narrowed = await refresh(gateway.url, app, tokens["refresh_token"], scope="read")
    assert status == 200, narrowed
    assert narrowed["scope"] == "read"
    assert jwt.decode(narrowed["access_token"], options={"verify_signature": False})["scope"] == "read"
    assert (await introspection(gateway.url, app, narrowed["refresh_token"]))["scope"] == "read write"
    status, widened_again = await refresh(gateway.url, app, narrowed["refresh_token"])
    assert status == 200, widened_again
    assert set(widened_again["scope"].split()) == {"read", "write"}
    assert await call(gateway, widened_again["access_token"]) == 200


async def test_a_refresh_cannot_ask_for_more_than_the_original_grant(revocation_stack: RevocationStack) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    gateway = await stack.start_gateway()
    status, body = await refresh(gateway.url, holder["app"], holder["tokens"]["refresh_token"], scope="read write")
    assert status == 400 and body["error"] == "invalid_scope"


async def test_rotation_does_not_extend_the_familys_absolute_lifetime(revocation_stack: RevocationStack) -> None:
    stack = revocation_stack
    holder = await stack.reader()
    app = holder["app"]
    gateway = await stack.start_gateway()
    family_end = (await introspection(gateway.url, app, holder["tokens"]["refresh_token"]))["exp"]
    assert jwt.decode(holder["tokens"]["access_token"], options={"verify_signature": False})["exp"] <= family_end
    token = holder["tokens"]["refresh_token"]
    for _ in range(2):
        status, rotated = await refresh(gateway.url, app, token)
        assert status == 200, rotated
        token = rotated["refresh_token"]
        assert (await introspection(gateway.url, app, token))["exp"] == family_end
        assert jwt.decode(rotated["access_token"], options={"verify_signature": False})["exp"] <= family_end
    # The family's end comes (moved to the past here rather than waited for): rotation cannot carry it on.
    async with stack.oauth.pool.acquire() as conn:
        await conn.execute(
            """UPDATE auth.oauth_refresh_tokens SET family_expires_at = now() - interval '1 second',
                   expires_at = LEAST(expires_at, now() - interval '1 second')
               WHERE client_id = $1""",
            app["client_id"],
        )
    status, body = await refresh(gateway.url, app, token)
    assert status == 400 and body["error"] == "invalid_grant"
