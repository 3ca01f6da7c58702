"""The authorization endpoint: request validation, error page vs redirect, login and consent pages, cookies, CSRF."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp.test_utils import TestClient

from tests.oauth.conftest import CALLBACK, OAuthHarness, hidden_fields, pkce_pair


def authorize_path(*, pkce: bool = True, **params: str) -> str:
    """An authorization request; with a PKCE challenge (required of every client) unless pkce=False."""
    if pkce and "code_challenge" not in params:
        params.update(code_challenge=pkce_pair()[1], code_challenge_method="S256")
    return f"/auth/oauth/authorize?{urlencode(params)}"


def error_of(location: str) -> tuple[str, str | None]:
    query = parse_qs(urlsplit(location).query)
    return query["error"][0], query.get("state", [None])[0]


async def signed_in_browser(oauth: OAuthHarness, user: dict) -> TestClient:
    browser = await oauth.make_browser()
    response = await oauth.sign_in(browser, user)
    assert response.status == 200
    return browser


async def test_unknown_client_gets_an_error_page_and_no_redirect(oauth: OAuthHarness) -> None:
    path = authorize_path(client_id="cid_unknown000000000000", redirect_uri=CALLBACK, response_type="code", state="s")
    response = await oauth.browser.get(path, allow_redirects=False)
    assert response.status == 400
    assert "Location" not in response.headers
    assert response.content_type == "text/html"
    assert "not registered" in await response.text()


async def test_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    for uri in ("https://evil.example/callback", CALLBACK + "/", CALLBACK + "?x=1", CALLBACK.upper()):
        path = authorize_path(client_id=app["client_id"], redirect_uri=uri, response_type="code", state="s")
        response = await oauth.browser.get(path, allow_redirects=False)
        assert response.status == 400, uri
        assert "Location" not in response.headers


async def test_repeated_parameter_gets_an_error_page(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    query = urlencode([("client_id", app["client_id"]), ("client_id", app["client_id"]), ("response_type", "code")])
    response = await oauth.browser.get(f"/auth/oauth/authorize?{query}", allow_redirects=False)
    assert response.status == 400 and "Location" not in response.headers


async def test_missing_response_type_redirects_invalid_request_with_state(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    path = authorize_path(client_id=app["client_id"], redirect_uri=CALLBACK, state="st-1")
    response = await oauth.browser.get(path, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith(CALLBACK + "?")
    assert error_of(response.headers["Location"]) == ("invalid_request", "st-1")


async def test_token_response_type_is_unsupported_response_type(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    path = authorize_path(client_id=app["client_id"], redirect_uri=CALLBACK, response_type="token", state="st-2")
    response = await oauth.browser.get(path, allow_redirects=False)
    assert error_of(response.headers["Location"]) == ("unsupported_response_type", "st-2")


async def test_scope_outside_the_apps_scopes_is_invalid_scope(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer(), scopes=["products:read"])
    for scope in ("write", "no-such-scope"):
        path = authorize_path(
            client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code", scope=scope, state="st-3"
        )
        response = await oauth.browser.get(path, allow_redirects=False)
        assert error_of(response.headers["Location"]) == ("invalid_scope", "st-3")


async def test_missing_state_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    response = await oauth.browser.get(
        authorize_path(client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code"), allow_redirects=False
    )
    assert error_of(response.headers["Location"]) == ("invalid_request", None)


async def test_public_client_without_pkce_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer(), client_type="public")
    path = authorize_path(
        pkce=False, client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code", state="st-4"
    )
    response = await oauth.browser.get(path, allow_redirects=False)
    assert error_of(response.headers["Location"]) == ("invalid_request", "st-4")


async def test_plain_code_challenge_method_is_invalid_request(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    _, challenge = pkce_pair()
    path = authorize_path(
        client_id=app["client_id"],
        redirect_uri=CALLBACK,
        response_type="code",
        state="st-5",
        code_challenge=challenge,
        code_challenge_method="plain",
    )
    response = await oauth.browser.get(path, allow_redirects=False)
    assert error_of(response.headers["Location"]) == ("invalid_request", "st-5")


async def test_without_a_session_the_user_is_sent_to_the_login_page(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    path = authorize_path(client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code", state="s")
    response = await oauth.browser.get(path, allow_redirects=False)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"][0].startswith("/auth/oauth/authorize?")


async def test_consent_page_names_the_app_and_the_scopes_and_cannot_be_framed(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer(), name="Inventory <Sync>")
    browser = await signed_in_browser(oauth, await oauth.user(permissions={"products:read"}))
    path = authorize_path(
        client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code", scope="read products:read", state="s"
    )
    response = await browser.get(path)
    page = await response.text()
    assert response.status == 200
    assert "Inventory &lt;Sync&gt;" in page and "<Sync>" not in page
    assert "Read all data you can read" in page and "Read products" in page
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_session_cookie_is_httponly_samesite_lax_and_secure_over_https(oauth: OAuthHarness) -> None:
    plain = await oauth.browser.get("/auth/login")
    cookie = plain.headers["Set-Cookie"]
    assert cookie.startswith("oauth_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    behind_tls = await oauth.browser.get("/auth/login", headers={"X-Forwarded-Proto": "https"})
    secure_cookie = behind_tls.headers["Set-Cookie"]
    assert secure_cookie.startswith("__Host-oauth_session=")
    assert "Secure" in secure_cookie and "HttpOnly" in secure_cookie and "Path=/" in secure_cookie


async def test_consent_without_the_csrf_token_is_refused(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    browser = await signed_in_browser(oauth, await oauth.user(permissions={"products:read"}))
    page = await browser.get(
        authorize_path(client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code", state="s")
    )
    fields = hidden_fields(await page.text())
    fields["csrf_token"] = secrets.token_urlsafe(32)
    response = await browser.post("/auth/oauth/authorize", data={**fields, "decision": "allow"}, allow_redirects=False)
    assert response.status == 403 and "Location" not in response.headers


async def test_login_form_without_the_csrf_token_is_refused(oauth: OAuthHarness) -> None:
    user = await oauth.user()
    browser = await oauth.make_browser()
    await browser.get("/auth/login")
    response = await browser.post("/auth/login", data={"username": user["username"], "password": "x" * 20})
    assert response.status == 403


async def test_wrong_password_shows_the_login_page_again_without_saying_which_part_was_wrong(
    oauth: OAuthHarness,
) -> None:
    user = await oauth.user()
    answers = []
    for username in (user["username"], "nobody-" + secrets.token_hex(4)):
        browser = await oauth.make_browser()
        fields = hidden_fields(await (await browser.get("/auth/login")).text())
        response = await browser.post("/auth/login", data={**fields, "username": username, "password": "wrong" * 4})
        answers.append((response.status, "Wrong username or password" in await response.text()))
    assert answers == [(401, True), (401, True)]


async def test_login_never_redirects_outside_the_authorization_endpoint(oauth: OAuthHarness) -> None:
    user = await oauth.user()
    browser = await oauth.make_browser()
    response = await oauth.sign_in(browser, user, next_url="https://evil.example/")
    assert response.status == 200 and "Location" not in response.headers


async def test_login_replaces_the_session_id(oauth: OAuthHarness) -> None:
    user = await oauth.user()
    browser = await oauth.make_browser()
    before = (await browser.get("/auth/login")).cookies["oauth_session"].value
    page = await browser.get("/auth/login")
    fields = hidden_fields(await page.text())
    response = await browser.post(
        "/auth/login", data={**fields, "username": user["username"], "password": "correct horse battery staple"}
    )
    assert response.cookies["oauth_session"].value != before


async def test_logout_ends_the_session(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer())
    browser = await signed_in_browser(oauth, await oauth.user(permissions={"products:read"}))
    path = authorize_path(client_id=app["client_id"], redirect_uri=CALLBACK, response_type="code", state="s")
    page = await browser.get(path)
    csrf = hidden_fields(await page.text())["csrf_token"]
    out = await browser.post("/auth/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    again = await browser.get(path, allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/auth/login")


async def test_code_redirect_keeps_the_redirect_uris_own_query(oauth: OAuthHarness) -> None:
    uri = "https://app.example/cb?tenant=7"
    app = await oauth.register_app(await oauth.developer(), redirect_uris=[uri])
    user = await oauth.user(permissions={"products:read"})
    code = await oauth.code_for(app, user, redirect_uri=uri)
    assert code
    location = await oauth.consent(
        await signed_in_browser(oauth, user),
        authorize_path(client_id=app["client_id"], response_type="code", state="q", prompt="consent"),
        user,
        "allow",
    )
    query = parse_qs(urlsplit(location).query)
    assert location.startswith("https://app.example/cb?") and query["tenant"] == ["7"] and query["state"] == ["q"]


async def test_authorized_apps_page_lists_the_app_and_revokes_it(oauth: OAuthHarness) -> None:
    app = await oauth.register_app(await oauth.developer(), name="Stock <Robot>")
    user = await oauth.user(permissions={"products:read"})
    tokens = await oauth.tokens_for(app, user)
    browser = await signed_in_browser(oauth, user)
    page = await browser.get("/auth/authorizations")
    text = await page.text()
    assert page.status == 200 and "Stock &lt;Robot&gt;" in text and page.headers["X-Frame-Options"] == "DENY"
    fields = hidden_fields(text)
    assert fields["client_id"] == app["client_id"]
    revoked = await browser.post("/auth/authorizations/revoke", data=fields, allow_redirects=False)
    assert revoked.status == 303
    assert "Stock" not in await (await browser.get("/auth/authorizations")).text()
    assert (await oauth.introspect(app, tokens["access_token"]))["active"] is False


async def test_authorized_apps_page_asks_to_sign_in_first(oauth: OAuthHarness) -> None:
    response = await (await oauth.make_browser()).get("/auth/authorizations", allow_redirects=False)
    assert response.status == 303
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == ["/auth/authorizations"]


async def test_repeated_failed_logins_from_one_address_are_throttled_with_retry_after(oauth: OAuthHarness) -> None:
    user = await oauth.user()
    browser = await oauth.make_browser()
    fields = hidden_fields(await (await browser.get("/auth/login")).text())
    statuses = []
    for _ in range(6):
        response = await browser.post(
            "/auth/login", data={**fields, "username": user["username"], "password": "x" * 12}
        )
        statuses.append(response.status)
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert int(response.headers["Retry-After"]) > 0
