"""Weakening a user revokes what they hold in PostgreSQL, in the transaction of the change (services/auth/events.py,
services/auth/oauth/tokens.py): a not-before time from the database's clock, the revoked tokens, and token issuance
serialised against it."""

from __future__ import annotations

import asyncio
import time

import jwt

from services.auth.events import RevocationPublisher
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.oauth.conftest import OAuthHarness


async def _revocation_list(oauth: OAuthHarness) -> dict:
    headers = {PRINCIPAL_HEADER: sign_principal(Principal.service("gateway"), oauth.signing_key, "auth")}
    response = await oauth.browser.get("/internal/oauth/revocations", headers=headers)
    assert response.status == 200
    return await response.json()


async def test_removing_a_permission_stores_the_users_not_before_time_and_revokes_their_tokens(
    oauth: OAuthHarness,
) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read", "orders:read"})
    tokens = await oauth.tokens_for(app, user)
    admin = await oauth.user(admin=True, signs_in=False)
    response = await oauth.browser.put(
        f"/api/users/{user['id']}/permissions", json={"permissions": ["orders:read"]}, headers=oauth.as_user(admin)
    )
    assert response.status == 200
    async with oauth.pool.acquire() as conn:
        not_before = await conn.fetchval(
            "SELECT not_before FROM auth.oauth_user_not_before WHERE user_id = $1", user["id"]
        )
        live = await conn.fetchval(
            """SELECT count(*) FROM auth.oauth_refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL""", user["id"]
        )
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert not_before is not None and claims["iat"] < not_before.timestamp()
    assert live == 0
    listed = await _revocation_list(oauth)
    assert {"user_id": user["id"], "not_before": not_before.timestamp()}.items() <= next(
        entry for entry in listed["not_before"] if entry["user_id"] == user["id"]
    ).items()
    assert claims["jti"] in {entry["jti"] for entry in listed["revoked"]}


async def test_weakening_a_developer_revokes_their_apps_own_tokens_but_not_other_users_grants(
    oauth: OAuthHarness,
) -> None:
    developer = await oauth.user(permissions={"apps:read", "apps:create", "products:read"}, signs_in=False)
    app = await oauth.register_app(
        developer, grant_types=["authorization_code", "refresh_token", "client_credentials"], permissions=[]
    )
    user = await oauth.user(permissions={"products:read"})
    delegated = await oauth.tokens_for(app, user)
    status, own, _ = await oauth.token_request(
        {"grant_type": "client_credentials", "scope": "read"}, basic=(app["client_id"], app["client_secret"])
    )
    assert status == 200, own
    admin = await oauth.user(admin=True, signs_in=False)
    response = await oauth.browser.put(
        f"/api/users/{developer['id']}/permissions",
        json={"permissions": ["apps:read", "apps:create"]},
        headers=oauth.as_user(admin),
    )
    assert response.status == 200
    assert (await oauth.introspect(app, own["access_token"]))["active"] is False
    assert (await oauth.introspect(app, delegated["access_token"]))["active"] is True


async def test_a_code_exchanged_while_its_user_is_being_weakened_yields_no_token(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read"})
    code = await oauth.code_for(app, user)
    async with oauth.pool.acquire() as conn:
        weakening = conn.transaction()
        await weakening.start()
        await conn.execute("SELECT 1 FROM auth.users WHERE id = $1 FOR UPDATE", user["id"])
        await conn.execute("DELETE FROM auth.permissions WHERE user_id = $1", user["id"])
        await RevocationPublisher().user_weakened(conn, user["id"], "permissions_removed")
        exchange = asyncio.create_task(oauth.exchange(app, code))
        # The exchange has read the old rights and now waits for the user's row.
        while not await oauth.pool.fetchval(
            """SELECT count(*) > 0 FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'"""
        ):
            assert not exchange.done(), await exchange
            await asyncio.sleep(0.01)
        await weakening.commit()
    status, body, _ = await exchange
    assert status == 400 and body["error"] == "invalid_grant"
    async with oauth.pool.acquire() as conn:
        live = await conn.fetchval(
            """SELECT count(*) FROM auth.oauth_access_tokens
               WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()""",
            user["id"],
        )
    assert live == 0


async def test_a_token_issued_in_the_second_of_a_weakening_is_not_dated_before_it(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read", "orders:read"})
    code = await oauth.code_for(app, user)
    async with oauth.pool.acquire() as conn, conn.transaction():
        await RevocationPublisher().user_weakened(conn, user["id"], "permissions_removed")
    status, body, _ = await oauth.exchange(app, code)
    assert status == 200, body
    async with oauth.pool.acquire() as conn:
        not_before = await conn.fetchval(
            "SELECT not_before FROM auth.oauth_user_not_before WHERE user_id = $1", user["id"]
        )
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["iat"] >= not_before.timestamp()
    assert time.time() >= not_before.timestamp()
