from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from services.gateway.app import create_app
from services.gateway.config import Config
from services.gateway.ratelimit import RateLimiter
from shared.config import ConfigError
from shared.counters import Counters
from tests.gateway.conftest import StartGateway, basic, make_principal

ORIGIN = "https://shop.example.com"


def _non_loopback_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the outgoing interface
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


async def test_answers_carry_ratelimit_headers_and_the_limit_gives_429_with_retry_after(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(RATE_LIMIT_API_KEY="3")
    key = gateway.auth.api_key(make_principal())
    remaining = []
    for _ in range(3):
        response = await gateway.client.get("/odata/products", headers={"X-API-Key": key})
        assert response.status == 200
        assert response.headers["RateLimit-Limit"] == "3"
        remaining.append(response.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": key})
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["RateLimit-Remaining"] == "0"
    assert (await response.json())["error"]["code"] == "too_many_requests"
    other = gateway.auth.api_key(make_principal())
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": other})).status == 200


async def test_failed_credentials_from_one_address_are_throttled_before_reaching_auth(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(RATE_LIMIT_ANONYMOUS="2")
    for _ in range(2):
        response = await gateway.client.get("/odata/products", headers={"X-API-Key": "pk_test_guess"})
        assert response.status == 401
        assert "RateLimit-Limit" in response.headers
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": "pk_test_guess"})
    assert response.status == 429
    assert "Retry-After" in response.headers
    assert len(gateway.auth.calls) == 2


async def test_public_routes_are_limited_per_client_address(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(RATE_LIMIT_ANONYMOUS="1")
    assert (await gateway.client.get("/auth/oauth/authorize")).status == 200
    assert (await gateway.client.get("/auth/oauth/authorize")).status == 429


async def test_a_spent_rate_budget_refills_one_request_per_interval() -> None:
    now = [0.0]
    limiter = RateLimiter(Counters("t:", clock=lambda: now[0]), window=10)
    assert not (await limiter.hit("k", 2)).exceeded
    assert not (await limiter.hit("k", 2)).exceeded
    refused = await limiter.hit("k", 2)
    assert refused.exceeded and refused.retry_after == 5 and refused.reset == 10
    now[0] = 5.0
    quota = await limiter.hit("k", 2)
    assert not quota.exceeded and quota.remaining == 0


async def test_the_rate_limiter_keeps_a_bounded_number_of_keys() -> None:
    limiter = RateLimiter(Counters("t:", max_keys=2), window=10)
    for key in ("a", "b", "c"):
        await limiter.hit(key, 5)
    assert (await limiter.peek("a", 5)).remaining == 5
    assert (await limiter.peek("c", 5)).remaining == 4


async def test_api_keys_over_plain_http_from_a_remote_address_are_refused(
    base_env: dict[str, str], start_gateway: StartGateway, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    stub = await start_gateway()
    key = stub.auth.api_key(make_principal())
    username, token = stub.auth.basic(make_principal(credential_kind="api_token"))
    env = {**base_env, "AUTH_URL": str(stub.auth_server.make_url("")).rstrip("/")}
    remote = await aiohttp_client(create_app(Config.from_env(env)), server_kwargs={"host": address})
    for headers in ({"X-API-Key": key}, basic(username, token)):
        response = await remote.get("/odata/products", headers=headers)
        assert response.status == 403
        body = await response.json()
        assert body["error"]["code"] == "https_required" and "HTTPS" in body["error"]["message"]
    assert stub.auth.calls == []


async def test_a_trusted_proxy_that_terminated_tls_is_believed(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(TRUSTED_PROXIES="127.0.0.1")
    key = gateway.auth.api_key(make_principal())
    forwarded = {"X-API-Key": key, "X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "https"}
    response = await gateway.client.get("/odata/products", headers=forwarded)
    assert response.status == 200
    seen = (await response.json())["headers"]
    assert seen["X-Forwarded-For"] == "203.0.113.9" and seen["X-Forwarded-Proto"] == "https"
    plain = {"X-API-Key": key, "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"}
    response = await gateway.client.get("/odata/products", headers=plain)
    assert response.status == 403


async def test_a_cors_preflight_from_an_allowed_origin_is_answered_without_credentials(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway(CORS_ORIGINS=ORIGIN)
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"}
    response = await gateway.client.options("/odata/products", headers=headers)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-API-Key" in response.headers["Access-Control-Allow-Headers"]
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert gateway.auth.calls == []


async def test_a_cors_preflight_from_another_origin_is_refused(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(CORS_ORIGINS=ORIGIN)
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    response = await gateway.client.options("/odata/products", headers=headers)
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_answers_to_an_allowed_origin_carry_cors_headers_never_a_wildcard(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(CORS_ORIGINS=ORIGIN)
    key = gateway.auth.api_key(make_principal())
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": key, "Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    refused = await gateway.client.get("/odata/products", headers={"Origin": ORIGIN})
    assert refused.status == 401 and refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    other = await gateway.client.get("/odata/products", headers={"X-API-Key": key, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize("path", ["/panel", "/panel/users", "/auth/oauth/token", "/auth/login", "/auth"])
async def test_the_panel_and_the_authorization_server_are_never_cross_origin(
    start_gateway: StartGateway, path: str
) -> None:
    gateway = await start_gateway(CORS_ORIGINS=ORIGIN)
    for method in ("GET", "POST"):
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": method}
        response = await gateway.client.options(path, headers=preflight)
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers
    response = await gateway.client.get(path, headers={"Origin": ORIGIN})
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_a_wildcard_cors_origin_is_a_config_error(base_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        Config.from_env({**base_env, "CORS_ORIGINS": "*"})
