"""The OAuth flows end to end through the real gateway (services/gateway), which verifies the JWTs locally with
services/gateway/jwt_verifier.py and forwards the signed principal: a third-party client (authlib) on one side, the
auth and odata services on the other."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from authlib.common.security import generate_token

from services.gateway.app import create_app as create_gateway
from services.gateway.config import Config as GatewayConfig
from services.gateway.jwt_verifier import JwtVerifier
from services.gateway.keys import JWT_VERIFIER
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from tests.eventually import eventually
from tests.oauth.conftest import CALLBACK, ISSUER, AsyncOAuth2Client, OAuthHarness, basic_header


@pytest.fixture
async def front_door(oauth: OAuthHarness, oauth_env: dict[str, str]) -> AsyncIterator[str]:
    odata = TestServer(create_odata(OdataConfig.from_env(oauth_env)), host="127.0.0.1")
    await odata.start_server()
    env = {
        **oauth_env,
        "AUTH_URL": oauth.base_url,
        "ODATA_URL": str(odata.make_url("")).rstrip("/"),
        "IMPORTER_URL": "http://127.0.0.1:9",
    }
    app = create_gateway(GatewayConfig.from_env(env))
    verifier = JwtVerifier(f"{oauth.base_url}/.well-known/jwks.json", ISSUER, ISSUER)
    app[JWT_VERIFIER] = verifier
    gateway = TestServer(app, host="127.0.0.1")
    await gateway.start_server()
    try:
        yield str(gateway.make_url("")).rstrip("/")
    finally:
        await gateway.close()
        await verifier.close()
        await odata.close()


async def get(url: str, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body


async def test_authorization_code_with_pkce_and_refresh_through_the_gateway(
    oauth: OAuthHarness, front_door: str
) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"apps:read", "products:read"})
    verifier = generate_token(64)
    browser = aiohttp.ClientSession(base_url=front_door, cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with AsyncOAuth2Client(
            app["client_id"], app["client_secret"], scope="read", redirect_uri=CALLBACK, code_challenge_method="S256"
        ) as client:
            url, _ = client.create_authorization_url(f"{front_door}/auth/oauth/authorize", code_verifier=verifier)
            location = await oauth.consent(browser, url, user, "allow")  # type: ignore[arg-type]
            token = await client.fetch_token(
                f"{front_door}/auth/oauth/token", authorization_response=location, code_verifier=verifier
            )
            refreshed = await client.refresh_token(
                f"{front_door}/auth/oauth/token", refresh_token=token["refresh_token"]
            )
    finally:
        await browser.close()
    status, body = await get(f"{front_door}/api/me", refreshed["access_token"])
    assert status == 200 and body["principal"]["client_id"] == app["client_id"]
    status, body = await get(f"{front_door}/odata/products?$top=2", refreshed["access_token"])
    assert status == 200 and "value" in body


async def test_client_credentials_token_reads_products_through_the_gateway_until_revoked(
    oauth: OAuthHarness, front_door: str
) -> None:
    owner = await oauth.user(permissions={"apps:create", "products:read"}, signs_in=False)
    app = await oauth.register_app(owner, grant_types=["client_credentials"], redirect_uris=[])
    async with AsyncOAuth2Client(app["client_id"], app["client_secret"], scope="read") as client:
        token = await client.fetch_token(f"{front_door}/auth/oauth/token", grant_type="client_credentials")
    assert (await get(f"{front_door}/odata/products?$top=2", token["access_token"]))[0] == 200
    assert (await get(f"{front_door}/odata/orders?$top=2", token["access_token"]))[0] == 403
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.post(
            f"{front_door}/auth/oauth/revoke",
            data={"token": token["access_token"]},
            headers={"Authorization": basic_header(app["client_id"], app["client_secret"])},
        ) as response:
            assert response.status == 200

    async def refused() -> bool:
        return (await get(f"{front_door}/odata/products?$top=2", token["access_token"]))[0] == 401

    await eventually(refused, timeout=1.0, what="the revoked token's refusal")
    assert time.monotonic() - started < 1.0
