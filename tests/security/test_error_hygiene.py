"""Errors keep secrets and bad requests are 4xx: oversized URLs and headers, unparseable requests and malformed
bodies get the platform's JSON error, echo nothing they were sent, and no log line holds a query string."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SERVICE_SECRET_ENV
from tests.security._stack_principal import RawAnswer, Stack, raw_request, running_stack

pytestmark = pytest.mark.slow

SERVICES = ("gateway", "auth", "odata", "importer")


@pytest.fixture(scope="module")
def stack(
    database_url: str,
    amqp_url: str,
    bus_prefix: str,
    signing_key: str,
    admin_api_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LISTEN_HOST": "127.0.0.1",
        **SERVICE_SECRET_ENV,
    }
    with running_stack(env, Path(tmp_path_factory.mktemp("hygiene"))) as running:
        yield running


def assert_json_error(answer: RawAnswer, status: int, code: str, *never: bytes) -> None:
    assert answer.status == status, answer
    assert "application/json" in answer.head.lower()
    assert json.loads(answer.body)["error"]["code"] == code
    for fragment in never:
        assert fragment not in answer.body
        assert fragment.decode("latin-1") not in answer.head


@pytest.mark.parametrize("service", SERVICES)
def test_a_url_over_the_limit_is_a_json_414_that_echoes_nothing(stack: Stack, service: str) -> None:
    marker = secrets.token_hex(8).encode()
    url = b"/odata/products?access_token=" + marker + b"&q=" + b"a" * 9000
    answer = raw_request(stack[service].port, b"GET " + url + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_error(answer, 414, "uri_too_long", marker, b"access_token", b"aaaaaaaaaa")


@pytest.mark.parametrize("service", SERVICES)
def test_a_header_over_the_limit_is_a_json_431_that_echoes_nothing(stack: Stack, service: str) -> None:
    marker = secrets.token_hex(8).encode()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + marker + b"b" * 9000 + b"\r\n\r\n"
    assert_json_error(raw_request(stack[service].port, request), 431, "header_fields_too_large", marker, b"bbbbbbbb")


@pytest.mark.parametrize("service", SERVICES)
def test_an_unparseable_request_is_a_json_400_that_echoes_nothing(stack: Stack, service: str) -> None:
    marker = secrets.token_hex(8).encode()
    request = b"GET /odata/products?access_token=" + marker + b" HTTP/1.1\r\nHost: x\r\n"
    request += b"Bad Header" + marker + b": y\r\n\r\n"
    assert_json_error(raw_request(stack[service].port, request), 400, "bad_request", marker, b"Bad Header")


# Every malformed body a client can send: (content type, body).
MALFORMED_BODIES = {
    "multipart without boundary": (
        "multipart/form-data",
        b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n",
    ),
    "truncated multipart": (
        "multipart/form-data; boundary=XyZ",
        b'--XyZ\r\nContent-Disposition: form-data; name="code"\r\n\r\nabc',
    ),
    "multipart with garbage": ("multipart/form-data; boundary=XyZ", b"\x00\xff garbage without any boundary line"),
    "urlencoded in an unknown charset": ("application/x-www-form-urlencoded; charset=klingon", b"a=b&c=d"),
    "urlencoded not in its charset": ("application/x-www-form-urlencoded; charset=utf-8", b"a=%ff%fe&b=\xff\xfe"),
    "urlencoded with undecodable escapes": ("application/x-www-form-urlencoded", b"a=%ff%fe&b=c"),
    "bad json": ("application/json", b'{"name": "x",'),
    "json in an unknown charset": ("application/json; charset=klingon", b'{"name": "x"}'),
    "json not in its charset": ("application/json; charset=utf-8", b'{"name": "\xff\xfe"}'),
}

# The routes that read a body of their own content type: a malformed one is exactly a 400 there.
BODY_ROUTES = {
    ("POST", "/api.php/token?format=json"): "application/x-www-form-urlencoded",
    ("POST", "/auth/oauth/token"): "application/x-www-form-urlencoded",
    ("POST", "/auth/oauth/revoke"): "application/x-www-form-urlencoded",
    ("POST", "/auth/oauth/introspect"): "application/x-www-form-urlencoded",
    ("POST", "/api/users"): "application/json",
    ("POST", "/api/keys"): "application/json",
    ("POST", "/api/apps"): "application/json",
    ("POST", "/api/mappers"): "application/json",
    ("POST", "/api/query"): "application/json",
    ("POST", "/api/import"): "multipart/form-data",
}


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_a_malformed_body_is_a_400_on_a_route_that_reads_that_kind_of_body(
    stack: Stack, admin_api_key: str, kind: str, method: str, path: str
) -> None:
    content_type, body = MALFORMED_BODIES[kind]
    headers = {"Content-Type": content_type}
    if not path.startswith(("/auth/", "/api.php/token")):
        headers["X-API-Key"] = admin_api_key
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, stack.gateway + path, data=body, headers=headers) as response,
    ):
        answer = await response.read()
    accepted = BODY_ROUTES[(method, path)]
    if content_type.split(";")[0] == accepted:
        assert response.status == 400, (kind, answer[:300])
    else:
        assert response.status in (400, 415), (kind, answer[:300])


def backend_routes(env: dict[str, str]) -> list[tuple[str, str]]:
    """(method, path) of every route the backends serve that takes a body, ids filled with ones that do not exist."""
    from services.auth.app import create_app as create_auth
    from services.auth.config import Config as AuthConfig
    from services.importer.app import create_app as create_importer
    from services.importer.config import Config as ImporterConfig
    from services.odata.app import create_app as create_odata
    from services.odata.config import Config as OdataConfig

    apps = [
        create_auth(AuthConfig.from_env(env)),
        create_odata(OdataConfig.from_env(env)),
        create_importer(ImporterConfig.from_env(env)),
    ]
    found = set()
    for app in apps:
        for route in app.router.routes():
            if route.method in ("POST", "PUT", "PATCH", "DELETE") and route.resource is not None:
                path = re.sub(r"\{[^}]+\}", "999999999", route.resource.canonical)
                found.add((route.method, path))
    return sorted(found)


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
async def test_no_route_answers_a_malformed_body_with_a_server_error(
    stack: Stack, admin_api_key: str, base_env: dict[str, str], kind: str
) -> None:
    content_type, body = MALFORMED_BODIES[kind]
    routes = backend_routes(base_env)
    assert ("POST", "/api.php/token") in routes and ("POST", "/api/import") in routes
    failures = []
    async with aiohttp.ClientSession() as http:
        for method, path in [*routes, ("POST", "/api.php/shop.product.getList")]:
            for credential in ({"X-API-Key": admin_api_key}, {}):
                headers = {"Content-Type": content_type, **credential}
                async with http.request(method, stack.gateway + path, data=body, headers=headers) as response:
                    answer = await response.read()
                if response.status >= 500:
                    failures.append((method, path, bool(credential), response.status, answer[:120]))
    assert failures == []


async def test_a_multipart_token_request_without_a_boundary_is_a_400_in_the_api_php_format(stack: Stack) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.gateway + "/api.php/token?format=json",
            data=b"code=x&client_id=y&grant_type=authorization_code",
            headers={"Content-Type": "multipart/form-data"},
        ) as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"


def test_no_log_line_holds_a_query_string(stack: Stack, admin_api_key: str) -> None:
    marker = secrets.token_hex(12)
    gateway = stack["gateway"].port
    for request in (
        f"GET /api.php/shop.product.getList?access_token={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET /odata/products?access_token={marker}&$top=1 HTTP/1.1\r\nHost: x\r\n"
        f"X-API-Key: {admin_api_key}\r\n\r\n".encode(),
        f"GET /odata/products?access_token={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET /no/route?access_token={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET /x?access_token={marker}{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        f"GET /x?access_token={marker} HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n".encode(),
        f"POST /api.php/token?access_token={marker} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\n"
        "Content-Length: 3\r\n\r\nabc".encode(),
    ):
        raw_request(gateway, request)
    for service in ("auth", "odata", "importer"):
        raw_request(stack[service].port, f"GET /healthz?access_token={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    logs = stack.logs()
    assert "GET /odata/products" in logs  # the access log is on, at DEBUG
    assert marker not in logs
    assert "access_token=" not in logs
