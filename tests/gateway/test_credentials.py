from __future__ import annotations

import base64

from shared.verification import VerifyRequest
from tests.gateway.conftest import Gateway, basic, make_principal


async def test_a_request_without_a_credential_is_401_with_a_basic_challenge(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="api"')
    assert (await response.json())["error"]["code"] == "missing_credential"
    assert gateway.backend.seen == []


async def test_basic_credentials_that_are_not_base64_are_401(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"Authorization": "Basic !!not-base64!!"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="api"')
    assert "base64" in (await response.json())["error"]["message"]
    assert gateway.auth.calls == []


async def test_basic_credentials_without_a_colon_are_401(gateway: Gateway) -> None:
    value = base64.b64encode(b"just-a-username").decode()
    response = await gateway.client.get("/odata/products", headers={"Authorization": f"Basic {value}"})
    assert response.status == 401
    assert "username:token" in (await response.json())["error"]["message"]


async def test_basic_credentials_that_are_not_utf8_are_401(gateway: Gateway) -> None:
    value = base64.b64encode(b"user:\xff\xfe").decode()
    response = await gateway.client.get("/odata/products", headers={"Authorization": f"Basic {value}"})
    assert response.status == 401
    assert "UTF-8" in (await response.json())["error"]["message"]


async def test_an_unknown_api_key_is_401_with_a_basic_challenge(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": "pk_test_unknown"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="api"')
    assert (await response.json())["error"]["code"] == "invalid_credential"
    assert gateway.backend.seen == []


async def test_a_wrong_basic_token_is_401(gateway: Gateway) -> None:
    username, _ = gateway.auth.basic(make_principal(credential_kind="api_token"))
    response = await gateway.client.get("/odata/products", headers=basic(username, "wrong-token"))
    assert response.status == 401
    assert gateway.auth.calls[0].kind == "basic"
    assert gateway.auth.calls[0].username == username


async def test_an_unknown_bearer_token_is_401_with_invalid_token(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"Authorization": "Bearer opaque-token-123"})
    assert response.status == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert gateway.auth.calls[0] == VerifyRequest("bearer", "opaque-token-123", None, "127.0.0.1")


async def test_a_malformed_bearer_token_is_401_without_asking_auth(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"Authorization": "Bearer a b c"})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert gateway.auth.calls == []


async def test_an_unsupported_authorization_scheme_is_401(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"Authorization": "Digest username=x"})
    assert response.status == 401
    assert "WWW-Authenticate" in response.headers


async def test_an_overlong_credential_is_refused_without_asking_auth(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": "k" * 2000})
    assert response.status == 401
    assert gateway.auth.calls == []


async def test_an_overlong_opaque_bearer_token_is_refused_without_asking_auth(gateway: Gateway) -> None:
    response = await gateway.client.get("/odata/products", headers={"Authorization": "Bearer " + "t" * 2000})
    assert response.status == 401
    assert gateway.auth.calls == []


async def test_two_different_credentials_are_400(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    headers = {"X-API-Key": key, "Authorization": "Bearer something"}
    response = await gateway.client.get("/odata/products", headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "ambiguous_credentials"
    assert gateway.auth.calls == []


async def test_the_same_header_twice_is_400(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    response = await gateway.client.get("/odata/products", headers=[("X-API-Key", key), ("X-API-Key", key)])
    assert response.status == 400


async def test_a_credential_without_the_routes_permission_is_403(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(frozenset({"products:read"})))
    response = await gateway.client.get("/api/imports", headers={"X-API-Key": key})
    assert response.status == 403
    assert "imports:read" in (await response.json())["error"]["message"]
    assert gateway.backend.seen == []


async def test_a_bearer_token_without_the_permission_is_403_insufficient_scope(gateway: Gateway) -> None:
    token = gateway.auth.bearer(make_principal(frozenset(), credential_kind="oauth_access"))
    response = await gateway.client.post("/api/import", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="imports:create"' in challenge


async def test_a_credential_with_the_permission_is_forwarded(gateway: Gateway) -> None:
    username, token = gateway.auth.basic(make_principal(frozenset({"imports:read"}), credential_kind="api_token"))
    response = await gateway.client.get("/api/imports", headers=basic(username, token))
    assert response.status == 200
    assert gateway.backend.seen[0]["path"] == "/api/imports"


async def test_an_admin_passes_every_route_permission(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(frozenset(), is_admin=True))
    response = await gateway.client.get("/api/mappers", headers={"X-API-Key": key})
    assert response.status == 200


async def test_auth_throttling_is_passed_on_as_429_with_retry_after(gateway: Gateway) -> None:
    gateway.auth.throttled = True
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": "pk_test_guess"})
    assert response.status == 429
    assert response.headers["Retry-After"] == "17"
    assert (await response.json())["error"]["code"] == "too_many_requests"


async def test_error_bodies_never_echo_the_secret(gateway: Gateway) -> None:
    secret = "pk_test_" + "s3cr3t" * 5
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": secret})
    assert secret not in await response.text()
    assert all(secret not in value for value in response.headers.values())
