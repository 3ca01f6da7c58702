"""The client-credentials grant: a client acting for itself with the rights granted to it."""

from __future__ import annotations

import jwt
import pytest

from tests.oauth.conftest import AsyncOAuth2Client, OAuthError, OAuthHarness


async def machine_app(oauth: OAuthHarness, **settings: object) -> dict:
    owner = await oauth.user(
        permissions={"apps:create", "products:read", "orders:read", "orders:update"}, signs_in=False
    )
    return await oauth.register_app(
        owner, grant_types=["client_credentials"], redirect_uris=[], scopes=["read", "write"], **settings
    )


async def test_client_credentials_token_carries_the_rights_granted_to_the_client(oauth: OAuthHarness) -> None:
    app = await machine_app(oauth, permissions=["products:read", "orders:update"])
    async with AsyncOAuth2Client(app["client_id"], app["client_secret"], scope="read write") as client:
        token = await client.fetch_token(oauth.token_url, grant_type="client_credentials")
    assert "refresh_token" not in token
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["sub"] == app["client_id"] == claims["client_id"]
    assert set(claims["permissions"]) == {"products:read", "orders:update"}
    assert claims["scope"] == "read write"


async def test_client_credentials_default_grant_is_read_only(oauth: OAuthHarness) -> None:
    app = await machine_app(oauth)
    async with AsyncOAuth2Client(
        app["client_id"], app["client_secret"], token_endpoint_auth_method="client_secret_post"
    ) as client:
        token = await client.fetch_token(oauth.token_url, grant_type="client_credentials")
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert set(claims["permissions"]) == {"products:read", "orders:read"}


async def test_requested_scope_narrows_the_client_token(oauth: OAuthHarness) -> None:
    app = await machine_app(oauth, permissions=["products:read", "orders:update"])
    async with AsyncOAuth2Client(app["client_id"], app["client_secret"], scope="read") as client:
        token = await client.fetch_token(oauth.token_url, grant_type="client_credentials")
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["permissions"] == ["products:read"]


async def test_scope_outside_the_clients_scopes_is_invalid_scope(oauth: OAuthHarness) -> None:
    app = await machine_app(oauth)
    async with AsyncOAuth2Client(app["client_id"], app["client_secret"], scope="shop") as client:
        with pytest.raises(OAuthError) as raised:
            await client.fetch_token(oauth.token_url, grant_type="client_credentials")
    assert raised.value.error == "invalid_scope"


async def test_client_loses_rights_its_owner_lost(oauth: OAuthHarness) -> None:
    from services.auth import db as auth_db

    app = await machine_app(oauth, permissions=["products:read", "orders:read"])
    async with oauth.pool.acquire() as conn:
        await auth_db.replace_permissions(conn, app["owner_user_id"], {"products:read"})
    async with AsyncOAuth2Client(app["client_id"], app["client_secret"], scope="read") as client:
        token = await client.fetch_token(oauth.token_url, grant_type="client_credentials")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["permissions"] == ["products:read"]


async def test_public_client_cannot_be_given_client_credentials(oauth: OAuthHarness) -> None:
    owner = await oauth.developer()
    response = await oauth.browser.post(
        "/api/apps",
        json={"name": "x", "client_type": "public", "grant_types": ["client_credentials"], "redirect_uris": []},
        headers=oauth.as_user(owner),
    )
    assert response.status == 400
    assert (await response.json())["error"]["target"] == "grant_types"
