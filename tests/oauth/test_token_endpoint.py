"""The token endpoint's answers and every RFC 6749 section 5.2 error case, with hand-made requests."""

from __future__ import annotations

import secrets
from typing import Any

from services.auth.oauth.grants import s256
from tests.oauth.conftest import CALLBACK, OAuthHarness, pkce_pair


def assert_error(status: int, body: dict, headers: Any, expected_status: int, code: str) -> None:
    assert (status, body["error"]) == (expected_status, code), body
    assert set(body) <= {"error", "error_description", "error_uri"}
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"


async def test_success_answer_has_the_rfc_fields_and_no_store_headers(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read"})
    status, body, headers = await oauth.exchange(app, await oauth.code_for(app, user))
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"
    assert headers["Content-Type"].startswith("application/json")


async def test_missing_grant_type_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    assert_error(
        *await oauth.token_request({"code": "x"}, basic=(app["client_id"], app["client_secret"])),
        400,
        "invalid_request",
    )


async def test_repeated_parameter_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read"})
    code = await oauth.code_for(app, user)
    data = [("grant_type", "authorization_code"), ("code", code), ("code", code), ("redirect_uri", CALLBACK)]
    assert_error(
        *await oauth.token_request(data, basic=(app["client_id"], app["client_secret"])), 400, "invalid_request"
    )


async def test_missing_code_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    data = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    assert_error(
        *await oauth.token_request(data, basic=(app["client_id"], app["client_secret"])), 400, "invalid_request"
    )


async def test_form_body_is_required(oauth: OAuthHarness) -> None:
    response = await oauth.browser.post("/auth/oauth/token", json={"grant_type": "client_credentials"})
    assert_error(response.status, await response.json(), response.headers, 400, "invalid_request")


async def test_unknown_grant_type_is_unsupported_grant_type(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    data = {"grant_type": "password", "username": "a", "password": "b"}
    assert_error(
        *await oauth.token_request(data, basic=(app["client_id"], app["client_secret"])), 400, "unsupported_grant_type"
    )


async def test_wrong_secret_with_basic_is_invalid_client_401_with_www_authenticate(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    status, body, headers = await oauth.token_request(
        {"grant_type": "client_credentials"}, basic=(app["client_id"], "ocs_" + "x" * 43)
    )
    assert_error(status, body, headers, 401, "invalid_client")
    assert headers["WWW-Authenticate"].startswith("Basic")


async def test_unknown_client_and_wrong_secret_get_the_same_answer(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    wrong = await oauth.token_request(
        {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": "nope"}
    )
    unknown = await oauth.token_request(
        {"grant_type": "client_credentials", "client_id": "cid_" + secrets.token_hex(8), "client_secret": "nope"}
    )
    assert_error(*wrong, 401, "invalid_client")
    assert_error(*unknown, 401, "invalid_client")
    assert wrong[1] == unknown[1]


async def test_confidential_client_without_secret_is_invalid_client(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    data = {"grant_type": "client_credentials", "client_id": app["client_id"]}
    assert_error(*await oauth.token_request(data), 401, "invalid_client")


async def test_two_client_authentication_methods_are_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    data = {"grant_type": "client_credentials", "client_secret": app["client_secret"]}
    assert_error(
        *await oauth.token_request(data, basic=(app["client_id"], app["client_secret"])), 400, "invalid_request"
    )


async def test_grant_type_not_allowed_for_the_client_is_unauthorized_client(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())  # authorization_code + refresh_token only
    data = {"grant_type": "client_credentials"}
    assert_error(
        *await oauth.token_request(data, basic=(app["client_id"], app["client_secret"])), 400, "unauthorized_client"
    )


async def test_code_of_another_client_is_invalid_grant(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app, other = await oauth.register_app(developer), await oauth.register_app(developer)
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}))
    assert_error(*await oauth.exchange(other, code), 400, "invalid_grant")


async def test_mismatched_redirect_uri_is_invalid_grant(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}))
    assert_error(*await oauth.exchange(app, code, redirect_uri="https://app.example/other"), 400, "invalid_grant")


async def test_unknown_code_is_invalid_grant(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    assert_error(*await oauth.exchange(app, secrets.token_urlsafe(32)), 400, "invalid_grant")


async def test_expired_code_is_invalid_grant(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}))
    async with oauth.pool.acquire() as conn:
        await conn.execute(
            "UPDATE auth.oauth_codes SET expires_at = now() - interval '1 second' WHERE client_id = $1",
            app["client_id"],
        )
    assert_error(*await oauth.exchange(app, code), 400, "invalid_grant")


async def test_codes_live_three_minutes(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    await oauth.code_for(app, await oauth.user(permissions={"products:read"}))
    async with oauth.pool.acquire() as conn:
        lifetime = await conn.fetchval(
            "SELECT extract(epoch FROM expires_at - created_at) FROM auth.oauth_codes WHERE client_id = $1",
            app["client_id"],
        )
    assert 179 <= float(lifetime) <= 181


async def test_replayed_code_is_refused_and_revokes_what_it_issued(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}))
    status, first, _ = await oauth.exchange(app, code)
    assert status == 200
    assert (await oauth.introspect(app, first["access_token"]))["active"] is True
    assert_error(*await oauth.exchange(app, code), 400, "invalid_grant")
    assert (await oauth.introspect(app, first["access_token"]))["active"] is False
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert_error(
        *await oauth.token_request(refresh, basic=(app["client_id"], app["client_secret"])), 400, "invalid_grant"
    )


async def test_wrong_code_verifier_is_invalid_grant(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    _, challenge = pkce_pair()
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}), challenge=challenge)
    other_verifier, _ = pkce_pair()
    assert_error(*await oauth.exchange(app, code, code_verifier=other_verifier), 400, "invalid_grant")


async def test_missing_code_verifier_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    _, challenge = pkce_pair()
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}), challenge=challenge)
    assert_error(*await oauth.exchange(app, code), 400, "invalid_request")


async def test_matching_code_verifier_is_accepted(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    verifier, challenge = pkce_pair()
    assert s256(verifier) == challenge
    code = await oauth.code_for(app, await oauth.user(permissions={"products:read"}), challenge=challenge)
    status, _, _ = await oauth.exchange(app, code, code_verifier=verifier)
    assert status == 200


async def test_reused_refresh_token_revokes_the_whole_family(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    first = await oauth.tokens_for(app, await oauth.user(permissions={"products:read"}))
    basic = (app["client_id"], app["client_secret"])
    status, second, _ = await oauth.token_request(
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, basic
    )
    assert status == 200
    replay = await oauth.token_request({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, basic)
    assert_error(*replay, 400, "invalid_grant")
    after = await oauth.token_request({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, basic)
    assert_error(*after, 400, "invalid_grant")
    assert (await oauth.introspect(app, second["access_token"]))["active"] is False


async def test_refresh_asking_more_scope_is_invalid_scope(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    first = await oauth.tokens_for(app, await oauth.user(permissions={"products:read"}), scope="read")
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "read write"}
    assert_error(*await oauth.token_request(data, (app["client_id"], app["client_secret"])), 400, "invalid_scope")


async def test_refresh_token_of_another_client_is_invalid_grant(oauth: OAuthHarness) -> None:
    developer = await oauth.developer()
    app, other = await oauth.register_app(developer), await oauth.register_app(developer)
    first = await oauth.tokens_for(app, await oauth.user(permissions={"products:read"}))
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert_error(*await oauth.token_request(data, (other["client_id"], other["client_secret"])), 400, "invalid_grant")


async def test_refresh_narrows_to_the_users_current_permissions(oauth: OAuthHarness) -> None:
    from services.auth import db as auth_db

    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read", "orders:read"})
    first = await oauth.tokens_for(app, user)
    async with oauth.pool.acquire() as conn:
        await auth_db.replace_permissions(conn, user["id"], {"products:read"})
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second, _ = await oauth.token_request(data, (app["client_id"], app["client_secret"]))
    assert status == 200
    assert (await oauth.introspect(app, second["access_token"]))["permissions"] == ["products:read"]


async def test_token_endpoint_refuses_get(oauth: OAuthHarness) -> None:
    response = await oauth.browser.get("/auth/oauth/token")
    assert response.status == 405


async def test_deactivated_user_can_no_longer_refresh(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions={"products:read"})
    first = await oauth.tokens_for(app, user)
    async with oauth.pool.acquire() as conn:
        await conn.execute("UPDATE auth.users SET is_active = false WHERE id = $1", user["id"])
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert_error(*await oauth.token_request(data, (app["client_id"], app["client_secret"])), 400, "invalid_grant")
    assert (await oauth.introspect(app, first["access_token"]))["active"] is False
