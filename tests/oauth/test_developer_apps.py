"""The developer apps API: registration rules, the client secret shown again and rotated, ownership, deletion."""

from __future__ import annotations

from tests.oauth.conftest import CALLBACK, OAuthHarness


async def test_created_app_shows_its_client_id_and_secret_again_in_its_settings(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer, name="Shop sync")
    assert app["client_id"].startswith("cid_") and app["client_secret"].startswith("ocs_")
    response = await oauth.browser.get(f"/api/apps/{app['client_id']}", headers=oauth.as_user(developer))
    settings = await response.json()
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert settings["client_secret"] == app["client_secret"]
    assert settings["name"] == "Shop sync" and settings["redirect_uris"] == [CALLBACK]
    assert settings["client_type"] == "confidential"


async def test_client_secret_is_stored_only_encrypted_and_hashed(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    async with oauth.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT secret_hash, secret_encrypted FROM auth.oauth_clients WHERE client_id = $1", app["client_id"]
        )
    secret = app["client_secret"].encode()
    assert secret not in bytes(row["secret_hash"]) and secret not in bytes(row["secret_encrypted"])
    assert len(bytes(row["secret_hash"])) == 32


async def test_rotated_secret_replaces_the_old_one_at_once(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer, grant_types=["client_credentials"], redirect_uris=[])
    response = await oauth.browser.post(f"/api/apps/{app['client_id']}/secret/rotate", headers=oauth.as_user(developer))
    rotated = (await response.json())["client_secret"]
    assert response.status == 200 and rotated != app["client_secret"]
    old = await oauth.token_request(
        {"grant_type": "client_credentials"}, basic=(app["client_id"], app["client_secret"])
    )
    new = await oauth.token_request({"grant_type": "client_credentials"}, basic=(app["client_id"], rotated))
    assert old[0] == 401 and new[0] == 200
    shown = await oauth.browser.get(f"/api/apps/{app['client_id']}", headers=oauth.as_user(developer))
    assert (await shown.json())["client_secret"] == rotated


async def test_redirect_uris_must_be_https_except_loopback(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    for bad in (
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "ftp://app.example/cb",
        "/relative",
        "https://user:pw@app.example/cb",
    ):
        response = await oauth.browser.post(
            "/api/apps", json={"name": "x", "redirect_uris": [bad]}, headers=oauth.as_user(developer)
        )
        assert response.status == 400, bad
        assert (await response.json())["error"]["target"] == "redirect_uris"
    for good in ("http://127.0.0.1:8000/cb", "http://localhost/cb", "http://[::1]:9/cb", "https://app.example/cb"):
        await oauth.register_app(developer, redirect_uris=[good])


async def test_unknown_scope_or_grant_type_is_refused(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    for body, target in (
        ({"scopes": ["everything"]}, "scopes"),
        ({"grant_types": ["password"]}, "grant_types"),
        ({"name": "x" * 101}, "name"),
        ({"unexpected": 1}, "unexpected"),
    ):
        response = await oauth.browser.post(
            "/api/apps", json={"name": "x", "redirect_uris": [CALLBACK], **body}, headers=oauth.as_user(developer)
        )
        assert response.status == 400, body
        assert (await response.json())["error"]["target"] == target


async def test_an_app_cannot_be_granted_rights_its_developer_lacks(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    response = await oauth.browser.post(
        "/api/apps",
        json={"name": "x", "grant_types": ["client_credentials"], "permissions": ["orders:delete"]},
        headers=oauth.as_user(developer),
    )
    assert response.status == 403


async def test_another_developers_app_is_not_found(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    stranger = await oauth.developer()
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/secret/rotate")):
        response = await oauth.browser.request(
            method, f"/api/apps/{app['client_id']}{suffix}", json={}, headers=oauth.as_user(stranger)
        )
        assert response.status == 404, method
    listed = await oauth.browser.get("/api/apps", headers=oauth.as_user(stranger))
    assert (await listed.json())["apps"] == []


async def test_apps_api_needs_the_gateways_principal_and_the_apps_permission(oauth: OAuthHarness) -> None:
    assert (await oauth.browser.get("/api/apps")).status == 401
    reader = await oauth.user(permissions={"products:read"})
    response = await oauth.browser.post("/api/apps", json={"name": "x"}, headers=oauth.as_user(reader))
    assert response.status == 403


async def test_update_changes_settings_but_not_the_client_type(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer)
    path = f"/api/apps/{app['client_id']}"
    response = await oauth.browser.patch(
        path, json={"name": "Renamed", "redirect_uris": ["https://new.example/cb"]}, headers=oauth.as_user(developer)
    )
    body = await response.json()
    assert response.status == 200 and body["name"] == "Renamed" and body["redirect_uris"] == ["https://new.example/cb"]
    refused = await oauth.browser.patch(path, json={"client_type": "public"}, headers=oauth.as_user(developer))
    assert refused.status == 400


async def test_deleting_an_app_revokes_its_tokens(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app = await oauth.register_app(developer)
    other = await oauth.register_app(developer)
    tokens = await oauth.tokens_for(app, await oauth.user(permissions={"products:read"}))
    async with oauth.pool.acquire() as conn:
        jti_count = await conn.fetchval(
            "SELECT count(*) FROM auth.oauth_access_tokens WHERE client_id = $1 AND revoked_at IS NULL",
            app["client_id"],
        )
    assert jti_count == 1
    response = await oauth.browser.delete(f"/api/apps/{app['client_id']}", headers=oauth.as_user(developer))
    assert response.status == 204
    async with oauth.pool.acquire() as conn:
        revoked = await conn.fetchval(
            "SELECT count(*) FROM auth.oauth_access_tokens WHERE client_id = $1 AND revoked_at IS NOT NULL",
            app["client_id"],
        )
    assert revoked == 1
    assert (await oauth.introspect(other, tokens["access_token"]))["active"] is False
    gone = await oauth.token_request(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        basic=(app["client_id"], app["client_secret"]),
    )
    assert gone[0] == 401
