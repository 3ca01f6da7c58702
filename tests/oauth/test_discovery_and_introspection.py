"""Authorization server metadata (RFC 8414), the JWKS, and token introspection (RFC 7662)."""

from __future__ import annotations

from tests.oauth.conftest import ISSUER, OAuthHarness, basic_header


async def test_metadata_names_every_endpoint_and_capability(oauth: OAuthHarness) -> None:
    response = await oauth.browser.get("/.well-known/oauth-authorization-server")
    metadata = await response.json()
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/auth/oauth/authorize"
    assert metadata["token_endpoint"] == f"{ISSUER}/auth/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["revocation_endpoint"] == f"{ISSUER}/auth/oauth/revoke"
    assert metadata["introspection_endpoint"] == f"{ISSUER}/auth/oauth/introspect"
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(metadata["token_endpoint_auth_methods_supported"])
    assert {"read", "write", "products:read", "shop"} <= set(metadata["scopes_supported"])


async def test_jwks_publishes_public_keys_only(oauth: OAuthHarness) -> None:
    jwks = await (await oauth.browser.get("/.well-known/jwks.json")).json()
    assert jwks["keys"]
    for key in jwks["keys"]:
        assert key["kid"] and key["alg"] in ("ES256", "RS256") and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


async def test_introspection_describes_an_active_token_to_its_client(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read"})
    tokens = await oauth.tokens_for(app, user)
    answer = await oauth.introspect(app, tokens["access_token"])
    assert answer["active"] is True
    assert answer["client_id"] == app["client_id"] and answer["sub"] == str(user["id"])
    assert answer["username"] == user["username"] and answer["scope"] == "read"
    assert answer["token_type"] == "Bearer" and answer["iss"] == ISSUER
    refresh = await oauth.introspect(app, tokens["refresh_token"])
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"


async def test_introspection_by_another_client_says_inactive(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app, other = await oauth.register_app(developer), await oauth.register_app(developer)
    tokens = await oauth.tokens_for(app, await oauth.user(permissions={"products:read"}))
    assert await oauth.introspect(other, tokens["access_token"]) == {"active": False}
    assert await oauth.introspect(other, "garbage") == {"active": False}


async def test_introspection_needs_client_authentication(oauth: OAuthHarness) -> None:
    response = await oauth.browser.post("/auth/oauth/introspect", data={"token": "x"})
    assert response.status == 401 and (await response.json())["error"] == "invalid_client"
    app = await oauth.register_app(await oauth.developer())
    wrong = await oauth.browser.post(
        "/auth/oauth/introspect", data={"token": "x"}, headers={"Authorization": basic_header(app["client_id"], "no")}
    )
    assert wrong.status == 401


async def test_revocation_list_is_for_internal_services_only(oauth: OAuthHarness) -> None:
    user = await oauth.user(admin=True, signs_in=False)
    response = await oauth.browser.get("/internal/oauth/revocations", headers=oauth.as_user(user))
    assert response.status == 403
    assert (await oauth.browser.get("/internal/oauth/revocations")).status == 401
