from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from services.auth.credentials import API_KEY_PREFIX
from services.auth.keys import POOL
from tests.auth.conftest import Auth
from tests.conftest import RevocationTap

KEY_RIGHTS = {"api_keys:read", "api_keys:create", "api_keys:update", "api_keys:delete"}


async def test_a_new_key_is_shown_once_and_listings_show_only_its_prefix(auth: Auth) -> None:
    user = await auth.user(permissions=KEY_RIGHTS | {"products:read"})
    next_year = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
    response = await auth.client.post(
        "/api/keys", json={"name": "shop sync", "expires_at": next_year}, headers=auth.as_user(user)
    )
    assert response.status == 201
    assert response.headers["Cache-Control"] == "no-store"
    created = await response.json()
    assert created["key"].startswith(API_KEY_PREFIX)
    assert created["key"].startswith(created["prefix"]) and len(created["prefix"]) < len(created["key"]) // 2
    assert created["expires_at"].startswith(next_year)
    listing = await (await auth.client.get("/api/keys", headers=auth.as_user(user))).json()
    assert [key["id"] for key in listing["value"]] == [created["id"]]
    entry = listing["value"][0]
    assert "key" not in entry and entry["name"] == "shop sync" and entry["status"] == "active"
    assert {"created_at", "expires_at", "last_used_at", "revoked_at", "prefix"} <= set(entry)
    assert created["key"] not in await (await auth.client.get("/api/keys", headers=auth.as_user(user))).text()


async def test_the_key_is_stored_only_as_a_keyed_hash(auth: Auth) -> None:
    user = await auth.user(permissions=KEY_RIGHTS)
    response = await auth.client.post("/api/keys", json={"name": "k"}, headers=auth.as_user(user))
    created = await response.json()
    row = await auth.client.app[POOL].fetchrow("SELECT * FROM auth.api_keys WHERE id = $1::uuid", created["id"])
    stored = " ".join(str(value) for value in row.values())
    assert created["key"] not in stored
    assert created["key"][len(API_KEY_PREFIX) + 8 :] not in stored
    assert len(row["key_hash"]) == 32


async def test_key_input_is_bounded_with_clear_400s(auth: Auth) -> None:
    user = await auth.user(permissions=KEY_RIGHTS | {"products:read"})
    cases = [
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"name": "k", "expires_at": "2001-01-01"}, "expires_at"),
        ({"name": "k", "expires_at": "2199-01-01"}, "expires_at"),
        ({"name": "k", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "k", "scope": ["planets:read"]}, "scope"),
        ({"name": "k", "scope": ["products:launch"]}, "scope"),
        ({"name": "k", "scope": "products:read"}, "scope"),
        ({"name": "k", "colour": "red"}, "colour"),
    ]
    for body, target in cases:
        response = await auth.client.post("/api/keys", json=body, headers=auth.as_user(user))
        assert response.status == 400, body
        assert (await response.json())["error"]["target"] == target


async def test_a_key_scope_cannot_exceed_the_owners_permissions(auth: Auth) -> None:
    user = await auth.user(permissions=KEY_RIGHTS | {"products:read"})
    response = await auth.client.post(
        "/api/keys", json={"name": "k", "scope": ["orders:delete"]}, headers=auth.as_user(user)
    )
    assert response.status == 400
    assert "orders:delete" in (await response.json())["error"]["message"]


async def test_a_narrowed_credential_cannot_mint_an_unnarrowed_key(auth: Auth) -> None:
    user = await auth.user(permissions=KEY_RIGHTS | {"orders:delete"})
    narrowed = auth.as_user(user, frozenset({"api_keys:create"}))
    response = await auth.client.post("/api/keys", json={"name": "k"}, headers=narrowed)
    assert response.status == 403
    response = await auth.client.post("/api/keys", json={"name": "k", "scope": ["api_keys:create"]}, headers=narrowed)
    assert response.status == 201


async def test_creating_keys_needs_the_api_keys_create_permission(auth: Auth) -> None:
    user = await auth.user(permissions={"api_keys:read"})
    response = await auth.client.post("/api/keys", json={"name": "k"}, headers=auth.as_user(user))
    assert response.status == 403


async def test_users_list_their_own_keys_and_admins_may_list_all(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    alice = await auth.user(permissions=KEY_RIGHTS)
    bob = await auth.user(permissions=KEY_RIGHTS)
    alice_key = await auth.create_key(alice)
    bob_key = await auth.create_key(bob)
    alice_view = await (await auth.client.get("/api/keys", headers=auth.as_user(alice))).json()
    assert [key["id"] for key in alice_view["value"]] == [alice_key["id"]]
    refused = await auth.client.get("/api/keys?all=true", headers=auth.as_user(alice))
    assert refused.status == 403
    everything = await (await auth.client.get("/api/keys?all=true&limit=500", headers=auth.as_user(admin))).json()
    ids = {key["id"] for key in everything["value"]}
    assert {alice_key["id"], bob_key["id"]} <= ids
    assert (await auth.client.get("/api/keys?all=maybe", headers=auth.as_user(admin))).status == 400


async def test_someone_elses_key_cannot_be_revoked_and_looks_absent(auth: Auth) -> None:
    alice = await auth.user(permissions=KEY_RIGHTS)
    bob = await auth.user(permissions=KEY_RIGHTS)
    bob_key = await auth.create_key(bob)
    response = await auth.client.post(f"/api/keys/{bob_key['id']}/revoke", headers=auth.as_user(alice))
    assert response.status == 404
    assert (await auth.verify_key(bob_key["key"]))[0] == 200
    unknown = await auth.client.post(f"/api/keys/{uuid.uuid4()}/revoke", headers=auth.as_user(alice))
    assert unknown.status == 404
    malformed = await auth.client.post("/api/keys/not-a-uuid/revoke", headers=auth.as_user(alice))
    assert malformed.status == 404


async def test_revoking_a_key_publishes_credential_revoked(auth: Auth, revocations: RevocationTap) -> None:
    user = await auth.user(permissions=KEY_RIGHTS)
    created = await auth.create_key(user)
    response = await auth.client.post(f"/api/keys/{created['id']}/revoke", headers=auth.as_user(user))
    assert response.status == 200
    event = await revocations.wait_for(lambda event: event.credential_id == created["id"])
    assert event.reason == "revoked"
    assert event.credential_kind == "api_key"
    assert event.user_id == user["id"]


async def test_rotation_with_grace_keeps_both_keys_working_for_the_grace_period(
    auth: Auth, revocations: RevocationTap
) -> None:
    user = await auth.user(permissions=KEY_RIGHTS)
    old = await auth.create_key(user)
    response = await auth.client.post(
        f"/api/keys/{old['id']}/rotate", json={"grace_seconds": 3600}, headers=auth.as_user(user)
    )
    assert response.status == 201
    rotated = await response.json()
    assert rotated["key"] != old["key"] and rotated["name"] == old["name"]
    assert rotated["previous"]["rotated_to"] == rotated["id"]
    assert (await auth.verify_key(rotated["key"]))[0] == 200
    status, body = await auth.verify_key(old["key"])
    assert status == 200
    assert 3500 < body["principal"]["expires_at"] - time.time() <= 3600
    assert body["cache_ttl"] == 60
    await revocations.wait_for(lambda event: event.credential_id == old["id"] and event.reason == "rotated")


async def test_rotation_without_grace_stops_the_old_key_at_once(auth: Auth) -> None:
    user = await auth.user(permissions=KEY_RIGHTS)
    old = await auth.create_key(user)
    response = await auth.client.post(
        f"/api/keys/{old['id']}/rotate", json={"grace_seconds": 0}, headers=auth.as_user(user)
    )
    assert response.status == 201
    rotated = await response.json()
    assert (await auth.verify_key(old["key"]))[0] == 401
    assert (await auth.verify_key(rotated["key"]))[0] == 200
    again = await auth.client.post(
        f"/api/keys/{old['id']}/rotate", json={"grace_seconds": 0}, headers=auth.as_user(user)
    )
    assert again.status == 409
    bad = await auth.client.post(
        f"/api/keys/{rotated['id']}/rotate", json={"grace_seconds": -5}, headers=auth.as_user(user)
    )
    assert bad.status == 400


async def test_an_expired_key_is_announced_on_the_bus(auth: Auth, revocations: RevocationTap) -> None:
    user = await auth.user()
    created = await auth.create_key(user)
    await auth.client.app[POOL].execute(
        "UPDATE auth.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", created["id"]
    )
    event = await revocations.wait_for(lambda event: event.credential_id == created["id"], timeout=5)
    assert event.reason == "expired"
