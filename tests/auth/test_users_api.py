from __future__ import annotations

import secrets

from services.auth.keys import POOL
from tests.auth.conftest import Auth
from tests.conftest import RevocationTap

PASSWORD = "correct horse battery staple"


async def test_the_management_api_refuses_calls_around_the_gateway(auth: Auth) -> None:
    for method, path in (("GET", "/api/users"), ("GET", "/api/keys"), ("GET", "/api/audit"), ("GET", "/api/me")):
        response = await auth.client.request(method, path)
        assert response.status == 401, path
    response = await auth.client.get("/api/users", headers=auth.as_gateway())
    assert response.status == 403


async def test_an_admin_creates_a_user_with_permissions(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    name = f"Clerk-{secrets.token_hex(4)}"
    response = await auth.client.post(
        "/api/users",
        json={"username": name, "email": "clerk@example.com", "password": PASSWORD, "permissions": ["orders:read"]},
        headers=auth.as_user(admin),
    )
    assert response.status == 201
    user = await response.json()
    assert user["username"] == name and user["permissions"] == ["orders:read"] and user["is_admin"] is False
    stored = await auth.client.app[POOL].fetchval("SELECT password_hash FROM auth.users WHERE id = $1", user["id"])
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    listing = await (await auth.client.get("/api/users?limit=500", headers=auth.as_user(admin))).json()
    assert user["id"] in {entry["id"] for entry in listing["value"]}


async def test_usernames_are_unique_case_insensitively(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    name = f"Mixed-{secrets.token_hex(4)}"
    first = await auth.client.post("/api/users", json={"username": name}, headers=auth.as_user(admin))
    assert first.status == 201
    second = await auth.client.post("/api/users", json={"username": name.lower()}, headers=auth.as_user(admin))
    assert second.status == 409
    assert (await second.json())["error"]["target"] == "username"


async def test_user_input_is_bounded_with_clear_400s(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    cases = [
        ({"username": "x" * 65}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": f"u{secrets.token_hex(3)}", "email": "no-at-sign"}, "email"),
        ({"username": f"u{secrets.token_hex(3)}", "password": "short"}, "password"),
        ({"username": f"u{secrets.token_hex(3)}", "permissions": ["products:fly"]}, "permissions"),
        ({"username": f"u{secrets.token_hex(3)}", "permissions": ["spaceships:read"]}, "permissions"),
        ({"username": f"u{secrets.token_hex(3)}", "is_admin": "yes"}, "is_admin"),
    ]
    for body, target in cases:
        response = await auth.client.post("/api/users", json=body, headers=auth.as_user(admin))
        assert response.status == 400, body
        assert (await response.json())["error"]["target"] == target
    not_json = await auth.client.post(
        "/api/users", data=b"{", headers={**auth.as_user(admin), "Content-Type": "application/json"}
    )
    assert not_json.status == 400
    too_big = await auth.client.post("/api/users", json={"username": "x" * 100_000}, headers=auth.as_user(admin))
    assert too_big.status == 413


async def test_unknown_resources_or_actions_in_a_permission_update_are_400(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    for permissions in (["products:fly"], ["nothing:read"], ["products"], "products:read", [1]):
        response = await auth.client.put(
            f"/api/users/{user['id']}/permissions", json={"permissions": permissions}, headers=auth.as_user(admin)
        )
        assert response.status == 400, permissions


async def test_removing_a_permission_publishes_a_user_revocation(auth: Auth, revocations: RevocationTap) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user(permissions={"products:read", "orders:read"})
    response = await auth.client.put(
        f"/api/users/{user['id']}/permissions",
        json={"permissions": ["products:read", "customers:read"]},
        headers=auth.as_user(admin),
    )
    assert response.status == 200
    assert (await response.json())["permissions"] == ["customers:read", "products:read"]
    event = await revocations.wait_for(lambda event: event.user_id == user["id"])
    assert event.reason == "permissions_removed" and event.credential_id is None


async def test_deactivating_a_user_publishes_a_user_revocation(auth: Auth, revocations: RevocationTap) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    response = await auth.client.patch(
        f"/api/users/{user['id']}", json={"is_active": False}, headers=auth.as_user(admin)
    )
    assert response.status == 200
    assert (await response.json())["is_active"] is False
    event = await revocations.wait_for(lambda event: event.user_id == user["id"])
    assert event.reason == "user_deactivated"


async def test_a_non_admin_cannot_grant_admin_rights_or_permissions_they_lack(auth: Auth) -> None:
    editor = await auth.user(permissions={"users:read", "users:update", "users:create", "products:read"})
    user = await auth.user()
    promote = await auth.client.patch(f"/api/users/{user['id']}", json={"is_admin": True}, headers=auth.as_user(editor))
    assert promote.status == 403
    grant = await auth.client.put(
        f"/api/users/{user['id']}/permissions", json={"permissions": ["orders:delete"]}, headers=auth.as_user(editor)
    )
    assert grant.status == 403
    allowed = await auth.client.put(
        f"/api/users/{user['id']}/permissions", json={"permissions": ["products:read"]}, headers=auth.as_user(editor)
    )
    assert allowed.status == 200
    create_admin = await auth.client.post(
        "/api/users", json={"username": f"u{secrets.token_hex(4)}", "is_admin": True}, headers=auth.as_user(editor)
    )
    assert create_admin.status == 403


async def test_an_admin_cannot_deactivate_themselves(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    response = await auth.client.patch(
        f"/api/users/{admin['id']}", json={"is_active": False}, headers=auth.as_user(admin)
    )
    assert response.status == 400


async def test_a_user_reads_themselves_but_not_others_without_users_read(auth: Auth) -> None:
    user = await auth.user()
    other = await auth.user()
    assert (await auth.client.get(f"/api/users/{user['id']}", headers=auth.as_user(user))).status == 200
    assert (await auth.client.get(f"/api/users/{other['id']}", headers=auth.as_user(user))).status == 403
    me = await (await auth.client.get("/api/me", headers=auth.as_user(user))).json()
    assert me["user"]["id"] == user["id"]


async def test_a_user_changes_their_own_password(auth: Auth) -> None:
    user = await auth.user(password=PASSWORD)
    wrong = await auth.client.post(
        "/api/me/password",
        json={"current_password": "not the password", "new_password": "a brand new passphrase"},
        headers=auth.as_user(user),
    )
    assert wrong.status == 400
    assert (await wrong.json())["error"]["target"] == "current_password"
    right = await auth.client.post(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=auth.as_user(user),
    )
    assert right.status == 200
    again = await auth.client.post(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "yet another passphrase"},
        headers=auth.as_user(user),
    )
    assert again.status == 400


async def test_only_an_admin_resets_a_password(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    editor = await auth.user(permissions={"users:update"})
    user = await auth.user(password=PASSWORD)
    body = {"new_password": "reset by the admin"}
    refused = await auth.client.post(f"/api/users/{user['id']}/password", json=body, headers=auth.as_user(editor))
    assert refused.status == 403
    done = await auth.client.post(f"/api/users/{user['id']}/password", json=body, headers=auth.as_user(admin))
    assert done.status == 200
    changed = await auth.client.post(
        "/api/me/password",
        json={"current_password": "reset by the admin", "new_password": "chosen by the user"},
        headers=auth.as_user(user),
    )
    assert changed.status == 200


async def test_the_audit_log_is_for_admins_and_holds_no_secret(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user(permissions={"api_keys:create", "api_keys:delete"})
    response = await auth.client.post("/api/keys", json={"name": "audited"}, headers=auth.as_user(user))
    created = await response.json()
    await auth.client.post(
        f"/api/keys/{created['id']}/revoke", headers={**auth.as_user(user), "X-Forwarded-For": "1.2.3.4, 203.0.113.9"}
    )
    enabled = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin)
    )
    token = (await enabled.json())["token"]
    refused = await auth.client.get("/api/audit", headers=auth.as_user(user))
    assert refused.status == 403
    response = await auth.client.get(f"/api/audit?user_id={user['id']}", headers=auth.as_user(admin))
    assert response.status == 200
    text = await response.text()
    entries = (await response.json())["value"]
    assert {"user.created", "api_key.created", "api_key.revoked", "api_token.enabled"} <= {e["event"] for e in entries}
    revoked = next(entry for entry in entries if entry["event"] == "api_key.revoked")
    assert revoked["actor_user_id"] == user["id"] and revoked["credential_id"] == created["id"]
    assert revoked["client_ip"] == "203.0.113.9"
    assert created["key"] not in text and token not in text
    assert (await auth.client.get("/api/audit?limit=0", headers=auth.as_user(admin))).status == 400


async def test_removing_admin_rights_publishes_a_user_revocation(auth: Auth, revocations: RevocationTap) -> None:
    admin = await auth.user(admin=True)
    other = await auth.user(admin=True)
    response = await auth.client.patch(
        f"/api/users/{other['id']}",
        json={"is_admin": False, "email": "demoted@example.com"},
        headers=auth.as_user(admin),
    )
    assert response.status == 200
    changed = await response.json()
    assert changed["is_admin"] is False and changed["email"] == "demoted@example.com"
    event = await revocations.wait_for(lambda event: event.user_id == other["id"])
    assert event.reason == "admin_rights_removed"


async def test_a_patch_without_known_fields_is_400(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    for body in ({}, {"username": "renamed"}, {"is_active": "no"}):
        response = await auth.client.patch(f"/api/users/{user['id']}", json=body, headers=auth.as_user(admin))
        assert response.status == 400, body
    missing = await auth.client.patch("/api/users/999999999", json={"is_active": True}, headers=auth.as_user(admin))
    assert missing.status == 404


async def test_health_and_readiness_answer_and_unknown_routes_are_json_404(auth: Auth) -> None:
    assert (await auth.client.get("/healthz")).status == 200
    ready = await auth.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"postgresql": "ok", "rabbitmq": "ok"}
    unknown = await auth.client.get("/api/nothing-here")
    assert unknown.status == 404
    assert (await unknown.json())["error"]["code"] == "not_found"
