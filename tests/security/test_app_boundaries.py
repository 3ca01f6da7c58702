"""A third-party app's token (OAuth or api.php) reaches data, never the management resources: users, API keys,
API tokens, apps, other apps' authorizations, the audit log. It may withdraw its own grant."""

from __future__ import annotations

from typing import Any

import jwt

from services.auth.keys import POOL
from services.auth.permissions import MANAGEMENT_PERMISSIONS
from tests.eventually import eventually
from tests.security.conftest import PASSWORD, Admin, Stack, User, basic, bearer


async def last_revocation(stack: Stack) -> int:
    """Where the auth service's revocation outbox ends now: a revocation is written there in the transaction of the
    change it announces, before the request that made it is answered."""
    return await stack.auth_app[POOL].fetchval("SELECT coalesce(max(id), 0) FROM auth.revocation_outbox")


async def revocations_since(stack: Stack, after: int, user_id: int) -> int:
    return await stack.auth_app[POOL].fetchval(
        "SELECT count(*) FROM auth.revocation_outbox WHERE id > $1 AND (body->>'user_id')::bigint = $2", after, user_id
    )


DEVELOPER_RIGHTS = ("apps:read", "apps:create", "apps:update", "apps:delete", "products:read")


async def _admin_user_and_app_token(stack: Stack, admin: Admin, scope: str = "read write") -> tuple[User, dict, str]:
    """An admin user who allowed a third-party app "read write": the strongest delegated token there is."""
    app = await admin.register_app(await stack.user(DEVELOPER_RIGHTS))
    owner = await stack.user(admin=True)
    tokens = await stack.authorization_code_tokens(app, owner, scope)
    return owner, app, tokens["access_token"]


def _management_calls(user: User, client_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/api/users", None),
        ("GET", f"/api/users/{user.id}", None),
        ("POST", "/api/users", {"username": "sec-made-by-an-app", "permissions": []}),
        ("PATCH", f"/api/users/{user.id}", {"email": "attacker@example.com"}),
        ("PUT", f"/api/users/{user.id}/permissions", {"permissions": []}),
        ("POST", f"/api/users/{user.id}/api-access", {"enabled": True}),
        ("GET", f"/api/users/{user.id}/api-token", None),
        ("POST", f"/api/users/{user.id}/api-token/regenerate", None),
        ("GET", "/api/keys", None),
        ("POST", "/api/keys", {"name": "outlives consent"}),
        ("GET", "/api/apps", None),
        ("GET", f"/api/apps/{client_id}", None),
        ("POST", "/api/apps", {"name": "spawned", "redirect_uris": ["https://evil.example/cb"]}),
        ("GET", "/api/authorizations", None),
        ("GET", "/api/apiphp/tokens", None),
        ("GET", "/api/audit", None),
        ("POST", "/api/me/password", {"current_password": PASSWORD, "new_password": "a whole new passphrase"}),
    ]


async def _refused_everywhere(stack: Stack, user: User, client_id: str, headers: dict[str, str]) -> None:
    for method, path, body in _management_calls(user, client_id):
        answer = await stack.call(method, path, json=body, headers=headers)
        assert answer.status == 403, (method, path, answer.status, answer.text)
        assert "key" not in answer.json() and "token" not in answer.json() and "client_secret" not in answer.text


async def test_an_oauth_token_with_read_and_write_never_reaches_management(stack: Stack, admin: Admin) -> None:
    owner, app, token = await _admin_user_and_app_token(stack, admin)
    await _refused_everywhere(stack, owner, app["client_id"], bearer(token))
    keys = (await admin.call("GET", "/api/keys?all=true&limit=500")).json()["value"]
    assert all(key["user_id"] != owner.id for key in keys)


async def test_an_oauth_token_still_reads_and_writes_data(stack: Stack, admin: Admin) -> None:
    _, _, token = await _admin_user_and_app_token(stack, admin)
    assert (await stack.call("GET", "/odata/products?$top=1", headers=bearer(token))).status == 200
    columns = [{"column": "E-Mail", "field": "email", "case": "lower"}]
    mapper = {"entity": "customers", "name": "made by an app", "definition": {"key": "email", "columns": columns}}
    created = await stack.call("POST", "/api/mappers", json=mapper, headers=bearer(token))
    assert created.status == 201, created.text
    me = await stack.call("GET", "/api/me", headers=bearer(token))
    assert me.status == 200


async def test_the_write_scope_covers_data_not_credentials(stack: Stack, admin: Admin) -> None:
    _, _, token = await _admin_user_and_app_token(stack, admin)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "products:create" in claims["permissions"] and "orders:delete" in claims["permissions"]
    assert not set(claims["permissions"]) & MANAGEMENT_PERMISSIONS
    assert claims["admin"] is False


async def test_an_app_cannot_be_registered_with_or_ask_for_a_management_scope(stack: Stack, admin: Admin) -> None:
    developer = await stack.user(DEVELOPER_RIGHTS)
    key = await admin.api_key_for(developer)
    for body in (
        {"name": "greedy", "redirect_uris": ["https://app.example/cb"], "scopes": ["users:update"]},
        {
            "name": "greedy",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "permissions": ["api_keys:create"],
        },
    ):
        answer = await stack.call("POST", "/api/apps", json=body, headers={"X-API-Key": key})
        assert answer.status == 400, answer.text
    app = await admin.register_app(developer, grant_types=["client_credentials"], redirect_uris=[])
    answer = await stack.call(
        "POST",
        "/auth/oauth/token",
        data={"grant_type": "client_credentials", "scope": "api_keys:create"},
        headers=basic(app["client_id"], app["client_secret"]),
    )
    assert answer.status == 400 and answer.json()["error"] == "invalid_scope"


async def test_a_client_credentials_token_never_reaches_management(stack: Stack, admin: Admin) -> None:
    developer = await stack.user(admin=True)
    app = await admin.register_app(
        developer, grant_types=["client_credentials"], redirect_uris=[], permissions=["products:read"]
    )
    # As an app registered before management rights were kept out of apps would hold them.
    async with stack.auth_app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE auth.oauth_clients SET granted_permissions = $2 WHERE client_id = $1",
            app["client_id"],
            sorted(MANAGEMENT_PERMISSIONS | {"products:read"}),
        )
    token = await stack.client_credentials_token(app, "read write")
    await _refused_everywhere(stack, developer, app["client_id"], bearer(token))
    assert (await stack.call("GET", "/odata/products?$top=1", headers=bearer(token))).status == 200


async def test_an_app_cannot_list_or_revoke_the_users_other_grants(stack: Stack, admin: Admin) -> None:
    developer = await stack.user(DEVELOPER_RIGHTS)
    first, second = await admin.register_app(developer), await admin.register_app(developer)
    user = await stack.user(["products:read"])
    first_token = (await stack.authorization_code_tokens(first, user))["access_token"]
    second_token = (await stack.authorization_code_tokens(second, user))["access_token"]
    listed = await stack.call("GET", "/api/authorizations", headers=bearer(first_token))
    assert listed.status == 403
    assert second["client_id"] not in listed.text
    before = await last_revocation(stack)
    for method, path in (
        ("POST", f"/api/authorizations/{second['client_id']}/revoke"),
        ("DELETE", f"/api/authorizations/{second['client_id']}"),
    ):
        assert (await stack.call(method, path, headers=bearer(first_token))).status == 403
    assert await revocations_since(stack, before, user.id) == 0
    assert (await stack.call("GET", "/odata/products?$top=1", headers=bearer(second_token))).status == 200


async def test_an_app_may_withdraw_its_own_grant(stack: Stack, admin: Admin) -> None:
    app = await admin.register_app(await stack.user(DEVELOPER_RIGHTS))
    user = await stack.user(["products:read"])
    token = (await stack.authorization_code_tokens(app, user))["access_token"]
    answer = await stack.call("POST", f"/api/authorizations/{app['client_id']}/revoke", headers=bearer(token))
    assert answer.status == 204, answer.text

    async def refused() -> bool:
        return (await stack.call("GET", "/odata/products?$top=1", headers=bearer(token))).status == 401

    await eventually(refused, timeout=1.0, what="the withdrawn grant's token being refused")
    key = await admin.api_key_for(user)
    listed = await stack.call("GET", "/api/authorizations", headers={"X-API-Key": key})
    assert listed.status == 200 and listed.json()["authorizations"] == []


async def test_the_users_own_credential_lists_and_revokes_their_grants(stack: Stack, admin: Admin) -> None:
    app = await admin.register_app(await stack.user(DEVELOPER_RIGHTS))
    user = await stack.user(["products:read"])
    await stack.authorization_code_tokens(app, user)
    own = {"X-API-Key": await admin.api_key_for(user)}
    listed = await stack.call("GET", "/api/authorizations", headers=own)
    assert [entry["client_id"] for entry in listed.json()["authorizations"]] == [app["client_id"]]
    assert (await stack.call("POST", f"/api/authorizations/{app['client_id']}/revoke", headers=own)).status == 204


async def test_an_apiphp_token_never_reaches_management(stack: Stack, admin: Admin) -> None:
    owner = await stack.user(admin=True)
    token = await stack.apiphp_token(owner)
    await _refused_everywhere(stack, owner, "com.example.shopsync", bearer(token))
    listed = await stack.call("GET", "/api.php/shop.product.getList", params={"limit": "1"}, headers=bearer(token))
    assert listed.status == 200, listed.text


async def test_an_apiphp_client_cannot_withdraw_an_oauth_apps_grant_by_copying_its_client_id(
    stack: Stack, admin: Admin
) -> None:
    app = await admin.register_app(await stack.user(DEVELOPER_RIGHTS))
    user = await stack.user(["products:read", "categories:read", "customers:read", "orders:read"])
    oauth_token = (await stack.authorization_code_tokens(app, user))["access_token"]
    copycat = await stack.apiphp_token(user, client_id=app["client_id"])
    before = await last_revocation(stack)
    answer = await stack.call("POST", f"/api/authorizations/{app['client_id']}/revoke", headers=bearer(copycat))
    assert answer.status == 403
    assert await revocations_since(stack, before, user.id) == 0
    assert (await stack.call("GET", "/odata/products?$top=1", headers=bearer(oauth_token))).status == 200


async def test_an_apiphp_token_revokes_itself(stack: Stack) -> None:
    token = await stack.apiphp_token(await stack.user(["products:read"]))
    assert (await stack.call("POST", "/api.php/revoke", headers=bearer(token))).status == 200

    async def refused() -> bool:
        return (await stack.call("GET", "/api.php/shop.product.getList", headers=bearer(token))).status == 401

    await eventually(refused, timeout=1.0, what="the revoked api.php token being refused")
