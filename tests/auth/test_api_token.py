from __future__ import annotations

from services.auth.keys import POOL
from tests.auth.conftest import Auth
from tests.conftest import RevocationTap


async def _enable(auth: Auth, admin: dict, user: dict) -> str:
    response = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin)
    )
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = await response.json()
    assert answer["enabled"] is True
    return answer["token"]


async def test_enabling_api_access_generates_and_shows_a_token_that_works_with_basic(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user(permissions={"products:read"})
    token = await _enable(auth, admin, user)
    assert token.startswith("cpt_") and len(token) == 47
    assert (await auth.verify_basic(user["username"], token))[0] == 200
    profile = await (await auth.client.get(f"/api/users/{user['id']}", headers=auth.as_user(admin))).json()
    assert profile["api_access_enabled"] is True
    again = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": True}, headers=auth.as_user(admin)
    )
    # Ticking an already ticked box keeps the token and does not hand it out again.
    assert await again.json() == {"enabled": True, "username": user["username"], "already_enabled": True}
    assert (await auth.verify_basic(user["username"], token))[0] == 200


async def test_an_admin_who_can_edit_the_user_sees_the_current_token(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    token = await _enable(auth, admin, user)
    response = await auth.client.get(f"/api/users/{user['id']}/api-token", headers=auth.as_user(admin))
    assert response.status == 200
    assert (await response.json())["token"] == token
    reader = await auth.user(permissions={"users:read"})
    refused = await auth.client.get(f"/api/users/{user['id']}/api-token", headers=auth.as_user(reader))
    assert refused.status == 403


async def test_a_non_admin_editor_cannot_see_or_change_an_admins_token(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    other_admin = await auth.user(admin=True)
    await _enable(auth, admin, other_admin)
    editor = await auth.user(permissions={"users:read", "users:update"})
    response = await auth.client.get(f"/api/users/{other_admin['id']}/api-token", headers=auth.as_user(editor))
    assert response.status == 403
    response = await auth.client.post(
        f"/api/users/{other_admin['id']}/api-access", json={"enabled": False}, headers=auth.as_user(editor)
    )
    assert response.status == 403


async def test_the_token_is_stored_as_a_keyed_hash_and_ciphertext_never_in_clear(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    token = await _enable(auth, admin, user)
    row = await auth.client.app[POOL].fetchrow("SELECT * FROM auth.api_tokens WHERE user_id = $1", user["id"])
    assert token.encode() not in bytes(row["token_hash"]) + bytes(row["token_encrypted"])
    assert token not in str(dict(row))
    assert len(row["token_hash"]) == 32


async def test_a_regenerated_token_takes_effect_only_when_saved(auth: Auth, revocations: RevocationTap) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    old = await _enable(auth, admin, user)
    response = await auth.client.post(f"/api/users/{user['id']}/api-token/regenerate", headers=auth.as_user(admin))
    assert response.status == 200
    pending = await response.json()
    new = pending["token"]
    assert new != old
    assert (await auth.verify_basic(user["username"], old))[0] == 200
    assert (await auth.verify_basic(user["username"], new))[0] == 401
    shown = await (await auth.client.get(f"/api/users/{user['id']}/api-token", headers=auth.as_user(admin))).json()
    assert shown["token"] == old
    response = await auth.client.post(
        f"/api/users/{user['id']}/api-token/save",
        json={"pending_id": pending["pending_id"]},
        headers=auth.as_user(admin),
    )
    assert response.status == 200
    assert (await auth.verify_basic(user["username"], old, client_ip="198.51.100.20"))[0] == 401
    assert (await auth.verify_basic(user["username"], new))[0] == 200
    event = await revocations.wait_for(lambda event: event.credential_id == f"api_token:{user['id']}")
    assert event.reason == "token_regenerated"
    again = await auth.client.post(
        f"/api/users/{user['id']}/api-token/save",
        json={"pending_id": pending["pending_id"]},
        headers=auth.as_user(admin),
    )
    assert again.status == 400


async def test_saving_needs_a_pending_id_of_that_user(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    alice = await auth.user()
    bob = await auth.user()
    await _enable(auth, admin, alice)
    await _enable(auth, admin, bob)
    pending = await (
        await auth.client.post(f"/api/users/{alice['id']}/api-token/regenerate", headers=auth.as_user(admin))
    ).json()
    for body in ({"pending_id": pending["pending_id"]}, {"pending_id": "nope"}, {}):
        response = await auth.client.post(
            f"/api/users/{bob['id']}/api-token/save", json=body, headers=auth.as_user(admin)
        )
        assert response.status == 400, body


async def test_disabling_api_access_revokes_the_token_at_once(auth: Auth, revocations: RevocationTap) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    token = await _enable(auth, admin, user)
    response = await auth.client.post(
        f"/api/users/{user['id']}/api-access", json={"enabled": False}, headers=auth.as_user(admin)
    )
    assert response.status == 200
    assert await response.json() == {"enabled": False, "username": user["username"]}
    assert (await auth.verify_basic(user["username"], token))[0] == 401
    event = await revocations.wait_for(lambda event: event.credential_id == f"api_token:{user['id']}")
    assert event.reason == "api_access_disabled"
    regenerate = await auth.client.post(f"/api/users/{user['id']}/api-token/regenerate", headers=auth.as_user(admin))
    assert regenerate.status == 409
    shown = await auth.client.get(f"/api/users/{user['id']}/api-token", headers=auth.as_user(admin))
    assert shown.status == 404


async def test_a_token_under_another_encryption_key_is_not_shown(auth: Auth) -> None:
    admin = await auth.user(admin=True)
    user = await auth.user()
    await _enable(auth, admin, user)
    other = await auth.user()
    await _enable(auth, admin, other)
    # Moving one user's ciphertext onto another user must not display the wrong token.
    await auth.client.app[POOL].execute(
        """UPDATE auth.api_tokens SET token_encrypted = (SELECT token_encrypted FROM auth.api_tokens WHERE user_id = $1)
           WHERE user_id = $2""",
        user["id"],
        other["id"],
    )
    response = await auth.client.get(f"/api/users/{other['id']}/api-token", headers=auth.as_user(admin))
    assert response.status == 409
