"""The signed principal the gateway sends a backend is bound to that backend and to a few seconds: a principal
taken from (or minted for) one backend is refused by the others, an old one by all, and anything malformed is a
401 in the error format, never a 500."""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.conftest import SERVICE_SECRET_ENV
from tests.security._stack_principal import Stack, raw_request, running_stack

pytestmark = pytest.mark.slow

# A protected read on each backend, and the error format its clients parse.
PROTECTED = {
    "odata": "/odata/products?$top=1",
    "importer": "/api/imports",
    "auth": "/api/users",
}
ADMIN = Principal(
    user_id=1,
    username="admin",
    is_admin=True,
    permissions=frozenset({"products:read", "imports:read", "users:read"}),
    credential_kind="api_key",
    credential_id="00000000-0000-0000-0000-000000000001",
)


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
    with running_stack(env, Path(tmp_path_factory.mktemp("principal"))) as running:
        yield running


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jws(header: dict[str, object], claims: dict[str, object], key: bytes, digest: str = "sha256") -> str:
    """A JWS made by hand, for algorithms and shapes pyjwt refuses to produce."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest() if digest else b""
    return f"{signing_input}.{_b64(signature)}"


def _claims(audience: str) -> dict[str, object]:
    now = int(time.time())
    return {"aud": audience, "iat": now, "exp": now + 30, "ver": 1, "principal": ADMIN.to_dict()}


async def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_the_gateway_reaches_every_backend_with_a_principal_each_accepts(
    stack: Stack, admin_api_key: str
) -> None:
    for path in PROTECTED.values():
        status, _ = await _get(stack.gateway + path, {"X-API-Key": admin_api_key})
        assert status == 200, path


@pytest.mark.parametrize("backend", sorted(PROTECTED))
async def test_a_principal_signed_for_a_backend_is_accepted_by_that_backend(
    stack: Stack, signing_key: str, backend: str
) -> None:
    header = sign_principal(ADMIN, signing_key.encode(), backend)
    status, _ = await _get(stack[backend].url + PROTECTED[backend], {PRINCIPAL_HEADER: header})
    assert status == 200


@pytest.mark.parametrize(
    ("minted_for", "sent_to"),
    [(issued, target) for issued in (*PROTECTED, "gateway") for target in PROTECTED if issued != target],
)
async def test_a_principal_minted_for_one_backend_is_refused_by_the_others(
    stack: Stack, signing_key: str, minted_for: str, sent_to: str
) -> None:
    header = sign_principal(ADMIN, signing_key.encode(), minted_for)
    status, body = await _get(stack[sent_to].url + PROTECTED[sent_to], {PRINCIPAL_HEADER: header})
    assert status == 401
    assert body["error"]["code"] == "unauthorized"  # type: ignore[index]
    assert "another service" in body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("backend", sorted(PROTECTED))
async def test_a_principal_older_than_its_lifetime_is_refused(stack: Stack, signing_key: str, backend: str) -> None:
    header = sign_principal(ADMIN, signing_key.encode(), backend, now=time.time() - 120)
    status, body = await _get(stack[backend].url + PROTECTED[backend], {PRINCIPAL_HEADER: header})
    assert status == 401 and body["error"]["code"] == "unauthorized"  # type: ignore[index]


MALFORMED = {
    "not base64": "!!!.@@@.###",
    "two parts": "e30.c2lnbmF0dXJl",
    "empty signature": "eyJhbGciOiJIUzI1NiJ9.e30.",
    "garbage json": f"{_b64(b'{not json')}.{_b64(b'[1,2')}.{_b64(b'x')}",
    "long": "a." * 3_000 + "a",
}


def _crafted(kind: str, key: bytes, backend: str) -> str:
    if kind == "none algorithm":
        return _jws({"alg": "none", "typ": "JWT"}, _claims(backend), key, digest="")
    if kind == "HS512 with the right key":
        return _jws({"alg": "HS512", "typ": "JWT"}, _claims(backend), key, digest="sha512")
    if kind == "RS256 header on an HMAC signature":
        return _jws({"alg": "RS256", "typ": "JWT"}, _claims(backend), key)
    if kind == "long-lived":
        return _jws({"alg": "HS256", "typ": "JWT"}, {**_claims(backend), "exp": int(time.time()) + 86_400}, key)
    if kind == "principal not an object":
        return _jws({"alg": "HS256", "typ": "JWT"}, {**_claims(backend), "principal": "admin"}, key)
    return MALFORMED[kind]


@pytest.mark.parametrize(
    "kind",
    [
        *MALFORMED,
        "none algorithm",
        "HS512 with the right key",
        "RS256 header on an HMAC signature",
        "long-lived",
        "principal not an object",
    ],
)
@pytest.mark.parametrize("backend", sorted(PROTECTED))
async def test_a_malformed_principal_is_a_json_401(stack: Stack, signing_key: str, backend: str, kind: str) -> None:
    header = _crafted(kind, signing_key.encode(), backend)
    status, body = await _get(stack[backend].url + PROTECTED[backend], {PRINCIPAL_HEADER: header})
    assert status == 401
    assert body["error"]["code"] == "unauthorized"  # type: ignore[index]


@pytest.mark.parametrize(
    "value",
    [b"\xff\xfe.\xc3\xa9.\x80", "é.ü.ß".encode(), "eyJhbGciOiJIUzI1NiJ9.ключ.подпись".encode(), b"\x00\x01.a.b"],
)
@pytest.mark.parametrize("backend", sorted(PROTECTED))
def test_a_principal_that_is_not_ascii_is_a_json_401(stack: Stack, backend: str, value: bytes) -> None:
    request = f"GET {PROTECTED[backend]} HTTP/1.1\r\nHost: x\r\n".encode() + PRINCIPAL_HEADER.encode() + b": "
    answer = raw_request(stack[backend].port, request + value + b"\r\nConnection: close\r\n\r\n")
    if answer.status == 400:
        # The parser itself refused the bytes (a control character): the platform's 400, never a 500.
        assert json.loads(answer.body)["error"]["code"] == "bad_request"
        return
    assert answer.status == 401
    assert json.loads(answer.body)["error"]["code"] == "unauthorized"


async def test_api_php_answers_a_malformed_principal_in_its_own_format(stack: Stack, signing_key: str) -> None:
    url = stack["odata"].url + "/api.php/shop.product.getList?format=json"
    for header in ("!!!.@@@.###", sign_principal(ADMIN, signing_key.encode(), "importer")):
        status, body = await _get(url, {PRINCIPAL_HEADER: header})
        assert status == 401 and body["error"] == "invalid_token"


async def test_a_principal_sent_by_a_client_never_reaches_a_backend(stack: Stack, signing_key: str) -> None:
    """Even a well-signed one: the gateway drops it and asks for a credential."""
    for backend, path in PROTECTED.items():
        header = sign_principal(ADMIN, signing_key.encode(), backend)
        status, _ = await _get(stack.gateway + path, {PRINCIPAL_HEADER: header})
        assert status == 401, backend
