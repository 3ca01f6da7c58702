"""JWT access tokens at the gateway (services/gateway/jwt_verifier.py): verified locally against the JWKS, refused
within a second of a revocation, and the keys rotated without breaking tokens already issued."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.auth.oauth.keys import OAUTH
from services.auth.oauth.setup import PRIVATE_KEY_CIPHER
from services.auth.oauth.signing import rotate_signing_key
from services.gateway.jwt_verifier import InvalidToken, JwtVerifier
from shared.messages import CredentialRevoked
from tests.oauth.conftest import ISSUER, OAuthHarness, wait_until

APPS_READER = {"apps:read", "products:read"}


async def call(gateway_url: str, token: str, path: str = "/api/me") -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway_url + path, headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status


async def user_tokens(oauth: OAuthHarness, permissions: set[str] = APPS_READER) -> tuple[dict, dict, dict]:
    app = await oauth.register_app(await oauth.developer())
    user = await oauth.user(permissions=permissions)
    return app, user, await oauth.tokens_for(app, user)


async def test_gateway_accepts_a_valid_jwt_and_the_backend_sees_its_principal(oauth: OAuthHarness, gateway) -> None:
    gw = await gateway()
    app, _, tokens = await user_tokens(oauth)
    async with aiohttp.ClientSession() as session:
        async with session.get(
            gw.url + "/api/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ) as response:
            assert response.status == 200
            body = await response.json()
    assert body["principal"]["client_id"] == app["client_id"]
    principal = await gw.verifier.verify(tokens["access_token"])
    assert principal.credential_kind == "oauth_access" and principal.client_id == app["client_id"]
    # The read scope covers data only: the user's apps:read stays out of the app's token.
    assert principal.permissions == frozenset({"products:read"}) and principal.scopes == ("read",)


async def test_revoked_access_token_is_refused_within_one_second(oauth: OAuthHarness, gateway) -> None:
    gw = await gateway()
    app, _, tokens = await user_tokens(oauth)
    assert await call(gw.url, tokens["access_token"]) == 200
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.post(
            gw.url + "/auth/oauth/revoke",
            data={"token": tokens["access_token"], "token_type_hint": "access_token"},
            auth=None,
            headers={"Authorization": _basic(app)},
        ) as response:
            assert response.status == 200

    async def refused() -> bool:
        return await call(gw.url, tokens["access_token"]) == 401

    await wait_until(refused, timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert any(event.credential_id and event.credential_kind == "oauth_access" for event in gw.revoked_seen)


async def test_revoking_a_refresh_token_revokes_its_access_tokens(oauth: OAuthHarness, gateway) -> None:
    gw = await gateway()
    app, _, tokens = await user_tokens(oauth)
    response = await oauth.browser.post(
        "/auth/oauth/revoke", data={"token": tokens["refresh_token"]}, headers={"Authorization": _basic(app)}
    )
    assert response.status == 200

    async def refused() -> bool:
        return await call(gw.url, tokens["access_token"]) == 401

    await wait_until(refused, timeout=1.0)
    refresh = await oauth.token_request(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        basic=(app["client_id"], app["client_secret"]),
    )
    assert refresh[1]["error"] == "invalid_grant"


async def test_revocation_of_an_unknown_token_answers_200(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    response = await oauth.browser.post(
        "/auth/oauth/revoke", data={"token": "not-a-token"}, headers={"Authorization": _basic(app)}
    )
    assert response.status == 200


async def test_another_clients_token_is_not_revoked(oauth: OAuthHarness) -> None:
    app, _, tokens = await user_tokens(oauth)
    other = await oauth.register_app(await oauth.developer())
    await oauth.browser.post(
        "/auth/oauth/revoke", data={"token": tokens["access_token"]}, headers={"Authorization": _basic(other)}
    )
    assert (await oauth.introspect(app, tokens["access_token"]))["active"] is True


async def test_withdrawing_an_apps_authorization_revokes_its_tokens(oauth: OAuthHarness, gateway) -> None:
    gw = await gateway()
    app, user, tokens = await user_tokens(oauth)
    listed = await oauth.browser.get("/api/authorizations", headers=oauth.as_user(user))
    assert [entry["client_id"] for entry in (await listed.json())["authorizations"]] == [app["client_id"]]
    response = await oauth.browser.delete(f"/api/authorizations/{app['client_id']}", headers=oauth.as_user(user))
    assert response.status == 204

    async def refused() -> bool:
        return await call(gw.url, tokens["access_token"]) == 401

    await wait_until(refused, timeout=1.0)
    listed = await oauth.browser.get("/api/authorizations", headers=oauth.as_user(user))
    assert (await listed.json())["authorizations"] == []
    again = await oauth.token_request(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        basic=(app["client_id"], app["client_secret"]),
    )
    assert again[1]["error"] == "invalid_grant"


async def test_user_wide_revocation_refuses_tokens_issued_before_it(oauth: OAuthHarness, gateway) -> None:
    gw = await gateway()
    _, user, tokens = await user_tokens(oauth)
    gw.verifier.handle_revocation(CredentialRevoked(reason="user_deactivated", user_id=user["id"]))
    with pytest.raises(InvalidToken):
        await gw.verifier.verify(tokens["access_token"])


async def test_rotated_signing_key_signs_new_tokens_and_old_tokens_still_verify(oauth: OAuthHarness, gateway) -> None:
    gw = await gateway()
    app, user, before = await user_tokens(oauth)
    assert await call(gw.url, before["access_token"]) == 200
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]
    new_kid = await rotate_signing_key(oauth.pool, oauth.server.app[PRIVATE_KEY_CIPHER], "ES256")
    await oauth.server.app[OAUTH].keyring.load(oauth.pool)
    after = await oauth.tokens_for(app, user)
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    await asyncio.sleep(0.6)  # past the verifier's refresh rate limit (min_refresh_interval=0.5 in the fixture)
    assert await call(gw.url, after["access_token"]) == 200  # unknown kid: the gateway refreshed its JWKS
    assert await call(gw.url, before["access_token"]) == 200
    jwks = await (await oauth.browser.get("/.well-known/jwks.json")).json()
    assert {old_kid, new_kid} <= {key["kid"] for key in jwks["keys"]}


async def test_forged_expired_and_misaddressed_tokens_are_refused(oauth: OAuthHarness) -> None:
    verifier = JwtVerifier(f"{oauth.base_url}/.well-known/jwks.json", ISSUER, ISSUER)
    try:
        _, _, tokens = await user_tokens(oauth)
        good = tokens["access_token"]
        claims = jwt.decode(good, options={"verify_signature": False})
        kid = jwt.get_unverified_header(good)["kid"]
        stranger = ec.generate_private_key(ec.SECP256R1())
        forged = jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})
        unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid, "typ": "at+jwt"})
        head, body, signature = good.split(".")
        tampered = ".".join((head, body[:-4] + ("AAAA" if body[-4:] != "AAAA" else "BBBB"), signature))
        server = oauth.server.app[OAUTH]
        expired = server.keyring.sign({**claims, "exp": int(time.time()) - 120, "iat": int(time.time()) - 200})
        other_audience = server.keyring.sign({**claims, "aud": "https://elsewhere.example"})
        other_issuer = server.keyring.sign({**claims, "iss": "https://elsewhere.example"})
        for token in (forged, unsigned, tampered, expired, other_audience, other_issuer, "abc", "a.b.c"):
            with pytest.raises(InvalidToken):
                await verifier.verify(token)
        assert (await verifier.verify(good)).credential_id == claims["jti"]
    finally:
        await verifier.close()


async def test_gateway_reloads_revocations_after_a_restart(oauth: OAuthHarness) -> None:
    from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

    app, _, tokens = await user_tokens(oauth)
    await oauth.browser.post(
        "/auth/oauth/revoke", data={"token": tokens["access_token"]}, headers={"Authorization": _basic(app)}
    )
    verifier = JwtVerifier(f"{oauth.base_url}/.well-known/jwks.json", ISSUER, ISSUER)
    try:
        headers = {PRINCIPAL_HEADER: sign_principal(Principal.service("gateway"), oauth.signing_key, "auth")}
        loaded = await verifier.load_revocations(f"{oauth.base_url}/internal/oauth/revocations", headers)
        assert loaded >= 1
        with pytest.raises(InvalidToken):
            await verifier.verify(tokens["access_token"])
    finally:
        await verifier.close()


def _basic(app: dict) -> str:
    from tests.oauth.conftest import basic_header

    return basic_header(app["client_id"], app["client_secret"])


async def test_a_cached_token_still_expires_and_can_still_be_revoked(oauth: OAuthHarness) -> None:
    now = [time.time()]
    verifier = JwtVerifier(f"{oauth.base_url}/.well-known/jwks.json", ISSUER, ISSUER, clock=lambda: now[0])
    try:
        _, _, tokens = await user_tokens(oauth)
        principal = await verifier.verify(tokens["access_token"])
        assert (await verifier.verify(tokens["access_token"])) is principal  # served from the cache
        verifier.handle_revocation(
            CredentialRevoked(reason="test", credential_kind="oauth_access", credential_id=principal.credential_id)
        )
        with pytest.raises(InvalidToken):
            await verifier.verify(tokens["access_token"])
        _, _, later = await user_tokens(oauth)
        await verifier.verify(later["access_token"])
        now[0] += 31 * 86400
        with pytest.raises(InvalidToken, match="expired"):
            await verifier.verify(later["access_token"])
    finally:
        await verifier.close()


async def test_unreachable_jwks_fails_closed_with_503(oauth: OAuthHarness) -> None:
    from services.gateway.jwt_verifier import JwksUnavailable

    _, _, tokens = await user_tokens(oauth)
    verifier = JwtVerifier("http://127.0.0.1:9/.well-known/jwks.json", ISSUER, ISSUER, fetch_timeout=1.0)
    try:
        for _ in range(2):  # the second attempt is inside the refresh rate limit: answered at once, still 503
            with pytest.raises(JwksUnavailable) as raised:
                await verifier.verify(tokens["access_token"])
            assert raised.value.status == 503
    finally:
        await verifier.close()


async def test_rs256_signing_keys_verify_at_the_gateway_too(oauth: OAuthHarness) -> None:
    app, user, _ = await user_tokens(oauth)
    kid = await rotate_signing_key(oauth.pool, oauth.server.app[PRIVATE_KEY_CIPHER], "RS256")
    await oauth.server.app[OAUTH].keyring.load(oauth.pool)
    tokens = await oauth.tokens_for(app, user)
    assert jwt.get_unverified_header(tokens["access_token"]) == {"alg": "RS256", "kid": kid, "typ": "at+jwt"}
    verifier = JwtVerifier(f"{oauth.base_url}/.well-known/jwks.json", ISSUER, ISSUER)
    try:
        assert (await verifier.verify(tokens["access_token"])).user_id == user["id"]
    finally:
        await verifier.close()
