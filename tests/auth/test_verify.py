from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

from services.auth.keys import POOL, USAGE
from services.auth.permissions import ALL_PERMISSIONS
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.auth.conftest import Auth

INVALID = {"error": {"code": "invalid_credential", "message": "The credential is invalid, expired or revoked"}}


async def test_verify_refuses_a_caller_without_the_gateways_signature(auth: Auth) -> None:
    response = await auth.client.post("/internal/verify", json={"kind": "api_key", "key": "x"})
    assert response.status == 401


async def test_verify_refuses_a_user_principal_with_403(auth: Auth) -> None:
    user = await auth.user(admin=True)
    response = await auth.client.post(
        "/internal/verify", json={"kind": "api_key", "key": "x"}, headers=auth.as_user(user)
    )
    assert response.status == 403


async def test_valid_api_key_answers_the_owners_principal_and_a_cache_ttl(auth: Auth) -> None:
    user = await auth.user(permissions={"products:read", "orders:read"})
    created = await auth.create_key(user)
    status, body = await auth.verify_key(created["key"])
    assert status == 200
    principal = Principal.from_dict(body["principal"])
    assert principal.user_id == user["id"]
    assert principal.permissions == {"products:read", "orders:read"}
    assert principal.credential_kind == "api_key"
    assert principal.credential_id == created["id"]
    assert body["cache_ttl"] == 60


async def test_admin_key_carries_every_permission(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    created = await auth.create_key(admin)
    status, body = await auth.verify_key(created["key"])
    assert status == 200
    assert frozenset(body["principal"]["permissions"]) == ALL_PERMISSIONS
    assert body["principal"]["is_admin"] is True


async def test_key_scope_narrows_the_owners_permissions(auth: Auth) -> None:
    user = await auth.user(permissions={"products:read", "products:update", "orders:read"})
    created = await auth.create_key(user, scope=["products:read"])
    status, body = await auth.verify_key(created["key"])
    assert status == 200
    assert body["principal"]["permissions"] == ["products:read"]


async def test_permissions_removed_from_the_owner_leave_a_scoped_key_too(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user(permissions={"products:read", "orders:read"})
    created = await auth.create_key(user, scope=["products:read", "orders:read"])
    response = await auth.client.put(
        f"/api/users/{user['id']}/permissions", json={"permissions": ["orders:read"]}, headers=auth.as_user(admin)
    )
    assert response.status == 200
    status, body = await auth.verify_key(created["key"])
    assert status == 200
    assert body["principal"]["permissions"] == ["orders:read"]


async def test_revoked_key_is_refused_at_once(auth: Auth) -> None:
    user = await auth.user(permissions={"api_keys:delete"})
    created = await auth.create_key(user)
    assert (await auth.verify_key(created["key"]))[0] == 200
    response = await auth.client.post(f"/api/keys/{created['id']}/revoke", headers=auth.as_user(user))
    assert response.status == 200
    assert (await response.json())["status"] == "revoked"
    assert await auth.verify_key(created["key"]) == (401, INVALID)


async def test_expired_key_is_refused(auth: Auth) -> None:
    user = await auth.user()
    created = await auth.create_key(user)
    async with auth.client.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE auth.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", created["id"]
        )
    assert await auth.verify_key(created["key"]) == (401, INVALID)


async def test_cache_ttl_never_reaches_past_the_keys_expiry(auth: Auth) -> None:
    user = await auth.user()
    created = await auth.create_key(user)
    async with auth.client.app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE auth.api_keys SET expires_at = now() + interval '20 seconds' WHERE id = $1::uuid", created["id"]
        )
    status, body = await auth.verify_key(created["key"])
    assert status == 200
    assert 18 <= body["cache_ttl"] <= 20
    assert body["principal"]["expires_at"] <= time.time() + 20


async def test_unknown_mistyped_and_garbage_keys_get_the_same_answer(auth: Auth) -> None:
    user = await auth.user()
    key = (await auth.create_key(user))["key"]
    mistyped = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
    unknown = "cap_" + "A" * 49
    for candidate in (mistyped, unknown, "not-a-key", "cap_"):
        assert await auth.verify_key(candidate) == (401, INVALID)


async def test_basic_username_and_token_verify_case_insensitively(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user(permissions={"customers:read"})
    response = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin)
    )
    token = (await response.json())["token"]
    status, body = await auth.verify_basic(user["username"].upper(), token)
    assert status == 200
    assert body["principal"]["credential_kind"] == "api_token"
    assert body["principal"]["credential_id"] == f"api_token:{user['id']}"
    assert body["principal"]["permissions"] == ["customers:read"]


async def test_unknown_user_and_wrong_token_give_the_same_answer(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    await auth.client.post(f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin))
    no_token_user = await auth.user()
    wrong = await auth.verify_basic(user["username"], "cpt_" + "x" * 43, client_ip="198.51.100.10")
    unknown = await auth.verify_basic(f"nobody-{secrets.token_hex(4)}", "cpt_" + "x" * 43, client_ip="198.51.100.11")
    disabled = await auth.verify_basic(no_token_user["username"], "cpt_" + "x" * 43, client_ip="198.51.100.12")
    assert wrong == unknown == disabled == (401, INVALID)


async def test_deactivated_users_credentials_are_refused(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    created = await auth.create_key(user)
    response = await auth.client.patch(
        f"/api/users/{user['id']}", json={"is_active": False}, headers=auth.as_user(admin)
    )
    assert response.status == 200
    assert await auth.verify_key(created["key"]) == (401, INVALID)


async def test_bearer_tokens_are_refused_until_the_oauth_server_issues_them(auth: Auth) -> None:
    status, body, _ = await auth.verify({"kind": "bearer", "token": "opaque-token", "client_ip": "198.51.100.3"})
    assert (status, body) == (401, INVALID)


async def test_malformed_verify_requests_are_400(auth: Auth) -> None:
    bodies = [
        {"kind": "password", "key": "x"},
        {"kind": "api_key"},
        {"kind": "api_key", "key": 5},
        {"kind": "api_key", "key": "x" * 600},
        {"kind": "basic", "token": "t"},
        {"kind": "basic", "username": "a\x00b", "token": "t"},
        {"kind": "api_key", "key": "x", "client_ip": "not an address"},
    ]
    for body in bodies:
        status, answer, _ = await auth.verify(body)
        assert status == 400, body
        assert answer["error"]["code"] == "bad_request"
    response = await auth.client.post("/internal/verify", data=b"[1,2", headers=auth.as_gateway())
    assert response.status == 415


async def test_failed_attempts_on_one_username_are_throttled_per_address_with_retry_after(auth: Auth) -> None:
    username = f"victim-{secrets.token_hex(4)}"
    for _ in range(5):
        assert (await auth.verify_basic(username, "cpt_wrong", client_ip="203.0.113.50"))[0] == 401
    status, body, headers = await auth.verify(
        {"kind": "basic", "username": username, "token": "cpt_wrong", "client_ip": "203.0.113.50"}
    )
    assert status == 429
    assert body["error"]["code"] == "too_many_requests"
    assert int(headers["Retry-After"]) >= 1
    assert (await auth.verify_basic(username, "cpt_wrong", client_ip="203.0.113.51"))[0] == 401


async def test_failures_from_many_addresses_do_not_lock_the_user_out(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    response = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin)
    )
    token = (await response.json())["token"]
    for attempt in range(12):
        status, _ = await auth.verify_basic(user["username"], "cpt_wrong", client_ip=f"203.0.113.{attempt + 100}")
        assert status == 401
    assert (await auth.verify_basic(user["username"], token, client_ip="198.51.100.7"))[0] == 200


async def test_failed_attempts_are_throttled_per_client_address(auth: Auth) -> None:
    for _ in range(50):
        assert (await auth.verify_key("cap_garbage", client_ip="192.0.2.77"))[0] == 401
    status, _, headers = await auth.verify({"kind": "api_key", "key": "cap_garbage", "client_ip": "192.0.2.77"})
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert (await auth.verify_key("cap_garbage", client_ip="192.0.2.78"))[0] == 401


async def test_last_used_is_recorded_in_batches_not_on_every_request(auth: Auth) -> None:
    user = await auth.user()
    created = await auth.create_key(user)
    assert (await auth.verify_key(created["key"]))[0] == 200
    pool = auth.client.app[POOL]
    before = await pool.fetchval("SELECT last_used_at FROM auth.api_keys WHERE id = $1::uuid", created["id"])
    assert before is None
    await auth.client.app[USAGE].flush(pool)
    after = await pool.fetchval("SELECT last_used_at FROM auth.api_keys WHERE id = $1::uuid", created["id"])
    assert datetime.now(UTC) - after < timedelta(seconds=10)
    first_use = await pool.fetch(
        "SELECT client_ip FROM auth.audit_log WHERE event = 'api_key.first_used' AND credential_id = $1", created["id"]
    )
    assert [row["client_ip"] for row in first_use] == ["198.51.100.1"]
    assert (await auth.verify_key(created["key"]))[0] == 200
    await auth.client.app[USAGE].flush(pool)
    again = await pool.fetchval(
        "SELECT count(*) FROM auth.audit_log WHERE event = 'api_key.first_used' AND credential_id = $1", created["id"]
    )
    assert again == 1


async def test_failed_attempts_reach_the_audit_log_in_bulk(auth: Auth) -> None:
    username = f"probe-{secrets.token_hex(4)}"
    for _ in range(3):
        await auth.verify_basic(username, "cpt_wrong", client_ip="192.0.2.200")
    pool = auth.client.app[POOL]
    await auth.client.app[USAGE].flush(pool)
    rows = await pool.fetch(
        "SELECT client_ip, details FROM auth.audit_log WHERE event = 'verify.failed' AND details->>'username' = $1",
        username,
    )
    assert len(rows) == 1
    assert rows[0]["client_ip"] == "192.0.2.200"
    assert '"count": 3' in rows[0]["details"]
    assert "cpt_wrong" not in rows[0]["details"]


async def test_an_expired_signed_principal_is_refused(auth: Auth) -> None:
    stale = sign_principal(Principal.service("gateway"), auth.signing_key, "auth", now=time.time() - 3600)
    response = await auth.client.post(
        "/internal/verify", json={"kind": "api_key", "key": "x"}, headers={PRINCIPAL_HEADER: stale}
    )
    assert response.status == 401
