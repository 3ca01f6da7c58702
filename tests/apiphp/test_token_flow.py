"""api.php, part 1: acquiring a token through /api.php/auth and /api.php/token, driven through the gateway."""

from __future__ import annotations

import re

import aiohttp

from services.auth.keys import POOL
from tests.apiphp.conftest import CALLBACK, PASSWORD, ApiPhpPlatform, fragment_of, hidden_fields, query_of


async def test_signing_in_and_allowing_redirects_with_a_code_that_exchanges_for_a_32_hex_token(
    apiphp_platform: ApiPhpPlatform,
) -> None:
    user = await apiphp_platform.user()
    async with apiphp_platform.browser() as browser:
        first = await browser.get(
            "/api.php/auth",
            params={
                "response_type": "code",
                "client_id": "com.example.shopsync",
                "client_name": "Shop Sync",
                "scope": "shop",
                "redirect_uri": CALLBACK,
            },
            allow_redirects=False,
        )
        assert first.status == 303 and first.headers["Location"].startswith("/auth/login?next=")
        answer = await apiphp_platform.decide(browser, user)
    assert answer.status == 302
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?code=")
    code = query_of(location)["code"]
    assert re.fullmatch(r"[0-9a-f]{32}", code)
    response = await apiphp_platform.exchange(code)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert set(body) == {"access_token"} and re.fullmatch(r"[0-9a-f]{32}", body["access_token"])


async def test_the_access_page_names_the_client_its_id_and_the_apps_with_allow_and_deny(
    apiphp_platform: ApiPhpPlatform,
) -> None:
    user = await apiphp_platform.user()
    async with apiphp_platform.browser() as browser:
        await apiphp_platform.decide(browser, user, decision="deny")  # signs in
        page = await browser.get(
            "/api.php/auth",
            params={
                "response_type": "code",
                "client_id": "XYZCompanyShopImportApp",
                "client_name": "XYZ <Import>",
                "scope": "shop,photos,blog",
                "redirect_uri": CALLBACK,
            },
        )
        text = await page.text()
    assert page.status == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "XYZ &lt;Import&gt;" in text and "<Import>" not in text
    assert "XYZCompanyShopImportApp" in text
    assert "<strong>shop</strong>" in text and "photos</strong>" not in text  # unknown apps are dropped
    assert 'value="allow"' in text and 'value="deny"' in text


async def test_deny_redirects_with_error_access_denied(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user()
    async with apiphp_platform.browser() as browser:
        answer = await apiphp_platform.decide(browser, user, decision="deny", state="xyz")
        token_answer = await apiphp_platform.decide(browser, user, decision="deny", response_type="token")
    assert answer.status == 302
    assert query_of(answer.headers["Location"]) == {"error": "access_denied", "state": "xyz"}
    assert fragment_of(token_answer.headers["Location"]) == {"error": "access_denied"}


async def test_client_apps_get_the_token_in_the_uri_fragment(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user()
    async with apiphp_platform.browser() as browser:
        answer = await apiphp_platform.decide(
            browser, user, response_type="token", redirect_uri="com.example.desktop:/done"
        )
    assert answer.status == 302
    location = answer.headers["Location"]
    assert location.startswith("com.example.desktop:/done#access_token=")
    token = fragment_of(location)["access_token"]
    response = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token})
    assert response.status == 200, await response.text()


async def test_a_code_works_once_and_its_replay_revokes_the_token_it_issued(apiphp_platform: ApiPhpPlatform) -> None:
    code = await apiphp_platform.code(await apiphp_platform.user())
    first = await apiphp_platform.exchange(code)
    token = (await first.json())["access_token"]
    assert (await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token})).status == 200
    replay = await apiphp_platform.exchange(code)
    assert replay.status == 400
    assert (await replay.json())["error"] == "invalid_grant"
    refused = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token})
    assert refused.status == 401
    assert (await refused.json())["error"] == "invalid_token"


async def test_an_expired_code_is_refused(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user()
    code = await apiphp_platform.code(user)
    async with apiphp_platform.auth_app[POOL].acquire() as conn:
        await conn.execute(
            "UPDATE auth.apiphp_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1", user["id"]
        )
    response = await apiphp_platform.exchange(code)
    assert response.status == 400
    assert await response.json() == {"error": "invalid_grant", "error_description": "Authorization code has expired"}


async def test_a_code_is_bound_to_its_client_id_and_redirect_uri(apiphp_platform: ApiPhpPlatform) -> None:
    code = await apiphp_platform.code(await apiphp_platform.user())
    other_client = await apiphp_platform.exchange(code, client_id="com.attacker.app")
    assert other_client.status == 400 and (await other_client.json())["error"] == "invalid_grant"
    other_uri = await apiphp_platform.exchange(code, redirect_uri="https://attacker.example/cb")
    assert other_uri.status == 400 and (await other_uri.json())["error"] == "invalid_grant"
    # Neither attempt used the code up: the rightful client still gets its token.
    assert (await apiphp_platform.exchange(code)).status == 200


async def test_the_token_endpoint_answers_xml_when_asked(apiphp_platform: ApiPhpPlatform) -> None:
    code = await apiphp_platform.code(await apiphp_platform.user())
    response = await apiphp_platform.exchange(code, fmt="xml")
    assert response.status == 200 and response.content_type == "text/xml"
    text = await response.text()
    assert re.fullmatch(
        r'<\?xml version="1.0" encoding="UTF-8"\?>\n<response><access_token>[0-9a-f]{32}</access_token></response>',
        text,
    )


async def test_the_token_endpoint_reports_missing_fields_and_wrong_grant_types(apiphp_platform: ApiPhpPlatform) -> None:
    async with aiohttp.ClientSession() as http:
        missing = await http.post(f"{apiphp_platform.gateway}/api.php/token", data={"client_id": "a.b"})
        assert missing.status == 400
        assert await missing.json() == {
            "error": "invalid_request",
            "error_description": "Required parameter is missing: code",
        }
        grant = await http.post(
            f"{apiphp_platform.gateway}/api.php/token",
            data={"code": "0" * 32, "client_id": "a.b", "grant_type": "password"},
        )
        assert grant.status == 400 and (await grant.json())["error"] == "unsupported_grant_type"
        unknown = await http.post(
            f"{apiphp_platform.gateway}/api.php/token",
            data={"code": "0" * 32, "client_id": "a.b", "grant_type": "authorization_code"},
        )
        assert unknown.status == 400 and (await unknown.json())["error"] == "invalid_grant"
        bad_format = await http.post(f"{apiphp_platform.gateway}/api.php/token?format=yaml", data={})
        assert bad_format.status == 400 and (await bad_format.json())["error"] == "invalid_request"


async def test_malformed_requests_show_an_error_page_and_never_redirect(apiphp_platform: ApiPhpPlatform) -> None:
    base = {"response_type": "code", "client_id": "com.example.app", "client_name": "App", "scope": "shop"}
    cases = [
        {**base, "client_id": "bad id with spaces"},
        {**base, "client_id": "x" * 101},
        {**base, "redirect_uri": "javascript:alert(1)"},
        {**base, "redirect_uri": "https://client.example/cb#frag"},
        {**base, "response_type": "token"},  # client apps must name redirect_uri
        {**base, "response_type": "id_token", "redirect_uri": CALLBACK},
        {key: value for key, value in base.items() if key != "client_name"},
    ]
    async with apiphp_platform.browser() as browser:
        for params in cases:
            response = await browser.get("/api.php/auth", params=params, allow_redirects=False)
            assert response.status == 400, params
            assert "Location" not in response.headers
            assert "invalid_request" in await response.text()


async def test_a_user_without_rights_in_the_shop_gets_invalid_scope(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user(frozenset({"imports:read"}))
    async with apiphp_platform.browser() as browser:
        await apiphp_platform.sign_in(browser, user, "/api.php/auth")
        page = await browser.get(
            "/api.php/auth",
            params={"response_type": "code", "client_id": "a.b", "client_name": "A", "scope": "shop,blog"},
        )
    assert page.status == 400 and "invalid scope" in await page.text()


async def test_the_sign_in_refuses_a_wrong_password_and_a_missing_csrf_token(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user()
    async with apiphp_platform.browser() as browser:
        page = await browser.get("/auth/login", params={"next": "https://evil.example/"})
        fields = hidden_fields(await page.text())
        assert fields["next"] == ""  # never an open redirect: only this server's own pages are places to return to
        wrong = await browser.post(
            "/auth/login", data={**fields, "username": user["username"], "password": "nope"}, allow_redirects=False
        )
        assert wrong.status == 401 and "Wrong username or password" in await wrong.text()
        forged = await browser.post(
            "/auth/login",
            data={"next": "/api.php/auth", "username": user["username"], "password": PASSWORD},
            allow_redirects=False,
        )
        assert forged.status == 403


async def test_the_access_form_needs_the_sessions_csrf_token(apiphp_platform: ApiPhpPlatform) -> None:
    user = await apiphp_platform.user()
    async with apiphp_platform.browser() as browser:
        await apiphp_platform.sign_in(browser, user, "/api.php/auth")
        forged = await browser.post(
            "/api.php/auth",
            data={
                "response_type": "code",
                "client_id": "a.b",
                "client_name": "A",
                "scope": "shop",
                "redirect_uri": CALLBACK,
                "decision": "allow",
                "csrf_token": "guess",
            },
            allow_redirects=False,
        )
    assert forged.status == 403 and "Location" not in forged.headers
