from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal, verify_principal
from tests.gateway.conftest import Gateway, StartGateway, basic, make_principal

MB = 1024 * 1024


async def test_the_backend_gets_the_signed_principal_and_never_the_credentials(
    gateway: Gateway, signing_key: str
) -> None:
    principal = make_principal()
    key = gateway.auth.api_key(principal)
    forged = sign_principal(make_principal(is_admin=True), b"not the key" * 4, "odata")
    headers = {
        "X-API-Key": key,
        "Cookie": "session=abc",
        PRINCIPAL_HEADER: forged,
        "X-Forwarded-For": "6.6.6.6",
        "X-Request-Id": "req-123",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "only for the next hop",
    }
    response = await gateway.client.get("/odata/products?$top=2&$select=id,name", headers=headers)
    assert response.status == 200
    seen = (await response.json())["headers"]
    assert verify_principal(seen[PRINCIPAL_HEADER], signing_key.encode(), "odata") == principal
    lowered = {name.lower() for name in seen}
    assert not lowered & {"x-api-key", "authorization", "cookie", "x-hop"}
    assert key not in str(seen)
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "http"
    assert {name.lower(): value for name, value in seen.items()}["x-request-id"] == "req-123"
    assert response.headers["X-Request-Id"] == "req-123"
    assert gateway.backend.seen[0]["path"] == "/odata/products?$top=2&$select=id,name"


async def test_basic_and_bearer_credentials_are_stripped_too(gateway: Gateway) -> None:
    username, token = gateway.auth.basic(make_principal(credential_kind="api_token"))
    response = await gateway.client.get("/odata/products", headers=basic(username, token))
    assert response.status == 200
    bearer = gateway.auth.bearer(make_principal(credential_kind="oauth_access"))
    response = await gateway.client.get("/odata/products", headers={"Authorization": f"Bearer {bearer}"})
    assert response.status == 200
    for seen in gateway.backend.seen:
        assert "Authorization" not in seen["headers"] and PRINCIPAL_HEADER in seen["headers"]


async def test_public_auth_pages_get_cookies_and_no_principal(gateway: Gateway) -> None:
    forged = sign_principal(Principal.service("gateway"), b"x" * 32, "auth")
    headers = {"Cookie": "session=abc", PRINCIPAL_HEADER: forged, "Authorization": "Basic Y2xpZW50OnNlY3JldA=="}
    response = await gateway.client.post(
        "/auth/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert response.status == 200
    seen = (await response.json())["headers"]
    assert seen["Cookie"] == "session=abc"
    assert seen["Authorization"] == "Basic Y2xpZW50OnNlY3JldA=="
    assert PRINCIPAL_HEADER not in seen
    assert gateway.auth.calls == []
    assert "backend=set-by-backend" in response.headers["Set-Cookie"]


async def test_a_backend_that_is_down_is_a_json_502(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(ODATA_URL="http://127.0.0.1:9")
    key = gateway.auth.api_key(make_principal())
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": key})
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "bad_gateway"


async def test_a_slow_backend_is_a_json_504(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    response = await gateway.client.get("/odata/slow", headers={"X-API-Key": key})
    assert response.status == 504
    assert (await response.json())["error"]["code"] == "gateway_timeout"


async def test_a_declared_body_over_the_limit_is_413_before_reaching_the_backend(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(MAX_BODY_BYTES=str(MB))
    key = gateway.auth.api_key(make_principal(frozenset({"imports:create"})))
    response = await gateway.client.post("/api/import", data=io.BytesIO(b"x" * (MB + 1)), headers={"X-API-Key": key})
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"
    assert gateway.backend.seen == []


async def test_a_streamed_body_over_the_limit_is_413(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(MAX_BODY_BYTES=str(MB))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"y" * 64 * 1024

    key = gateway.auth.api_key(make_principal(frozenset({"imports:create"})))
    response = await gateway.client.post("/api/import", data=chunks(), headers={"X-API-Key": key})
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_a_large_upload_is_streamed_to_the_backend_while_it_is_still_being_sent(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(frozenset({"imports:create"})))
    digest = hashlib.sha256()
    chunk = bytes(range(256)) * 256

    async def upload() -> AsyncIterator[bytes]:
        for index in range(400):  # 25 MB
            digest.update(chunk)
            yield chunk
            if index == 0:
                # A gateway that buffered the whole body would never let the backend see this first chunk.
                await asyncio.wait_for(gateway.backend.first_chunk_arrived.wait(), 5)

    response = await gateway.client.post("/api/import", data=upload(), headers={"X-API-Key": key})
    assert response.status == 200
    seen = await response.json()
    assert seen["size"] == 400 * len(chunk)
    assert seen["sha256"] == digest.hexdigest()


async def test_the_backends_answer_is_streamed_to_the_client(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    response = await gateway.client.get("/odata/streamed-answer", headers={"X-API-Key": key})
    assert response.status == 200
    first = await asyncio.wait_for(response.content.readexactly(len(b"first part;")), 5)
    assert first == b"first part;"
    gateway.backend.release_response.set()
    assert await response.content.read() == b"second part"


async def test_an_upload_with_a_declared_length_arrives_intact(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(frozenset({"imports:create"})))
    payload = bytes(range(256)) * 8192  # 2 MB
    response = await gateway.client.post(
        "/api/import", data=io.BytesIO(payload), headers={"X-API-Key": key, "Content-Type": "text/csv"}
    )
    assert response.status == 200
    seen = await response.json()
    assert seen["size"] == len(payload)
    assert seen["sha256"] == hashlib.sha256(payload).hexdigest()
    assert seen["headers"]["Content-Length"] == str(len(payload))
    assert seen["headers"]["Content-Type"] == "text/csv"


async def test_a_client_that_stalls_while_uploading_gets_408(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(CLIENT_BODY_TIMEOUT="0.3")
    key = gateway.auth.api_key(make_principal(frozenset({"imports:create"})))

    async def stalling() -> AsyncIterator[bytes]:
        yield b"sku,name\n"
        await asyncio.sleep(3)
        yield b"never,sent\n"

    response = await gateway.client.post("/api/import", data=stalling(), headers={"X-API-Key": key})
    assert response.status == 408
    assert (await response.json())["error"]["code"] == "request_timeout"
