"""The authorization-code flow with PKCE and refresh, driven by a third-party client (authlib over httpx)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt
from authlib.common.security import generate_token

from tests.oauth.conftest import CALLBACK, ISSUER, AsyncOAuth2Client, OAuthHarness


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def test_confidential_app_gets_tokens_through_login_consent_and_pkce(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer)
    user = await oauth.user(permissions={"products:read", "products:update", "orders:read"})
    verifier = generate_token(64)
    async with AsyncOAuth2Client(
        app["client_id"],
        app["client_secret"],
        scope="read write",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    ) as client:
        url, state = client.create_authorization_url(oauth.authorize_url, code_verifier=verifier)
        location = await oauth.consent(oauth.browser, url, user, "allow")
        assert location.startswith(CALLBACK + "?")
        assert query_of(location)["state"] == state
        token = await client.fetch_token(oauth.token_url, authorization_response=location, code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] == 30 * 86400
    assert token["scope"] == "read write"
    assert token["refresh_token"].startswith("ort_")
    header = jwt.get_unverified_header(token["access_token"])
    assert header["typ"] == "at+jwt" and header["kid"]
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["aud"] == ISSUER
    assert claims["sub"] == str(user["id"]) and claims["client_id"] == app["client_id"]
    assert claims["scope"] == "read write"
    assert set(claims["permissions"]) == {"products:read", "products:update", "orders:read"}
    assert claims["exp"] - claims["iat"] == 30 * 86400 and claims["jti"]


async def test_public_client_uses_pkce_without_a_secret(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer, client_type="public", redirect_uris=["http://127.0.0.1:9999/cb"])
    assert app["client_secret"] is None
    user = await oauth.user(permissions={"products:read"})
    verifier = generate_token(64)
    async with AsyncOAuth2Client(
        app["client_id"],
        scope="products:read",
        redirect_uri="http://127.0.0.1:9999/cb",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    ) as client:
        url, _ = client.create_authorization_url(oauth.authorize_url, code_verifier=verifier)
        location = await oauth.consent(oauth.browser, url, user, "allow")
        token = await client.fetch_token(oauth.token_url, authorization_response=location, code_verifier=verifier)
        refreshed = await client.refresh_token(oauth.token_url, refresh_token=token["refresh_token"])
    claims = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    assert claims["permissions"] == ["products:read"]


async def test_refresh_rotates_the_refresh_token_and_keeps_the_scope(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer)
    user = await oauth.user(permissions={"products:read"})
    verifier = generate_token(64)
    async with AsyncOAuth2Client(
        app["client_id"],
        app["client_secret"],
        scope="read",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
    ) as client:
        url, _ = client.create_authorization_url(oauth.authorize_url, code_verifier=verifier)
        location = await oauth.consent(oauth.browser, url, user, "allow")
        first = await client.fetch_token(oauth.token_url, authorization_response=location, code_verifier=verifier)
        second = await client.refresh_token(oauth.token_url, refresh_token=first["refresh_token"])
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert second["scope"] == "read"
        third = await client.refresh_token(oauth.token_url, refresh_token=second["refresh_token"])
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


async def test_deny_sends_access_denied_with_state(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer)
    user = await oauth.user(permissions={"products:read"})
    async with AsyncOAuth2Client(
        app["client_id"], app["client_secret"], scope="read", redirect_uri=CALLBACK, code_challenge_method="S256"
    ) as client:
        url, state = client.create_authorization_url(oauth.authorize_url, code_verifier=generate_token(64))
        location = await oauth.consent(oauth.browser, url, user, "deny")
    assert location.startswith(CALLBACK + "?")
    assert query_of(location) == {
        "error": "access_denied",
        "error_description": "The user denied access",
        "state": state,
        "iss": ISSUER,
    }
