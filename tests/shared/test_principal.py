from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from shared.errors import Unauthorized
from shared.principal import LIFETIME_SECONDS, Principal, sign_principal, verify_principal

KEY = b"k" * 32
ALICE = Principal(
    user_id=7,
    username="alice",
    is_admin=False,
    permissions=frozenset({"products:read"}),
    credential_kind="api_key",
    credential_id="key-1",
    client_id="client-9",
    scopes=("read",),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NONE_HEADER = _b64(b'{"alg":"none","typ":"JWT"}')
HS256_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')


def test_a_signed_principal_round_trips() -> None:
    assert verify_principal(sign_principal(ALICE, KEY, "odata"), KEY, "odata") == ALICE


def test_a_principal_round_trips_through_its_dict() -> None:
    assert Principal.from_dict(ALICE.to_dict()) == ALICE


def test_the_header_is_an_hs256_jwt_naming_its_audience_and_living_seconds() -> None:
    value = sign_principal(ALICE, KEY, "importer")
    assert jwt.get_unverified_header(value)["alg"] == "HS256"
    claims = jwt.decode(value, KEY, algorithms=["HS256"], audience="importer")
    assert claims["aud"] == "importer"
    assert claims["exp"] - claims["iat"] == LIFETIME_SECONDS <= 30


@pytest.mark.parametrize("audience", ["auth", "importer", "gateway", ""])
def test_a_principal_minted_for_odata_is_refused_by_every_other_service(audience: str) -> None:
    with pytest.raises(Unauthorized, match="another service"):
        verify_principal(sign_principal(ALICE, KEY, "odata"), KEY, audience or "odatax")


def test_a_principal_without_an_audience_is_refused() -> None:
    value = jwt.encode({"iat": int(time.time()), "exp": int(time.time()) + 10, "principal": ALICE.to_dict()}, KEY)
    with pytest.raises(Unauthorized):
        verify_principal(value, KEY, "odata")


def test_a_principal_for_a_list_of_audiences_is_refused() -> None:
    now = int(time.time())
    claims = {"aud": ["odata", "auth"], "iat": now, "exp": now + 10, "ver": 1, "principal": ALICE.to_dict()}
    with pytest.raises(Unauthorized):
        verify_principal(jwt.encode(claims, KEY), KEY, "auth")


def test_a_principal_signed_with_another_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="signature"):
        verify_principal(sign_principal(ALICE, b"x" * 32, "odata"), KEY, "odata")


def test_a_tampered_principal_is_refused() -> None:
    header, _, signature = sign_principal(ALICE, KEY, "odata").split(".")
    forged = sign_principal(Principal.from_dict({**ALICE.to_dict(), "is_admin": True}), KEY, "odata").split(".")[1]
    with pytest.raises(Unauthorized):
        verify_principal(f"{header}.{forged}.{signature}", KEY, "odata")


def test_an_expired_principal_is_refused() -> None:
    value = sign_principal(ALICE, KEY, "odata", now=time.time() - LIFETIME_SECONDS - 10)
    with pytest.raises(Unauthorized, match="Expired"):
        verify_principal(value, KEY, "odata")


def test_a_principal_from_the_future_is_refused() -> None:
    with pytest.raises(Unauthorized):
        verify_principal(sign_principal(ALICE, KEY, "odata", now=time.time() + 3600), KEY, "odata")


def test_a_principal_signed_to_live_long_is_refused() -> None:
    now = int(time.time())
    claims = {"aud": "odata", "iat": now, "exp": now + 3600, "ver": 1, "principal": ALICE.to_dict()}
    with pytest.raises(Unauthorized):
        verify_principal(jwt.encode(claims, KEY, algorithm="HS256"), KEY, "odata")


def test_the_none_algorithm_is_refused() -> None:
    now = int(time.time())
    claims = {"aud": "odata", "iat": now, "exp": now + 10, "ver": 1, "principal": {**ALICE.to_dict(), "is_admin": 1}}
    unsigned = f"{NONE_HEADER}.{_b64(json.dumps(claims).encode())}."
    with pytest.raises(Unauthorized):
        verify_principal(unsigned, KEY, "odata")


def test_another_hmac_algorithm_is_refused_even_with_the_right_key() -> None:
    now = int(time.time())
    claims = {"aud": "odata", "iat": now, "exp": now + 10, "ver": 1, "principal": ALICE.to_dict()}
    long_key = KEY * 2  # long enough that pyjwt accepts it for HS512
    with pytest.raises(Unauthorized):
        verify_principal(jwt.encode(claims, long_key, algorithm="HS512"), long_key, "odata")


def test_a_principal_of_another_version_is_refused() -> None:
    now = int(time.time())
    claims = {"aud": "odata", "iat": now, "exp": now + 10, "ver": 2, "principal": ALICE.to_dict()}
    with pytest.raises(Unauthorized):
        verify_principal(jwt.encode(claims, KEY, algorithm="HS256"), KEY, "odata")


@pytest.mark.parametrize(
    "principal",
    [None, "alice", [1, 2], {"username": "alice"}, {"username": "a", "credential_kind": "x"}],
)
def test_a_well_signed_token_with_a_malformed_principal_is_refused(principal: object) -> None:
    now = int(time.time())
    claims = {"aud": "odata", "iat": now, "exp": now + 10, "ver": 1, "principal": principal}
    with pytest.raises(Unauthorized):
        verify_principal(jwt.encode(claims, KEY, algorithm="HS256"), KEY, "odata")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nodot",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "!!!.***.???",
        "x" * 20000,
        "eyJhbGciOiJIUzI1NiJ9.é.ü",
        "ключ.ключ.ключ",
        "\udcff\udcfe.a.b",
        "eyJ.eyJ.x",
        f"{_b64(b'[1]')}.{_b64(b'[2]')}.{_b64(b'sig')}",
        f"{HS256_HEADER}.{_b64(b'not json')}.{_b64(b'sig')}",
    ],
)
def test_malformed_principal_headers_are_refused_as_unauthorized(value: str) -> None:
    with pytest.raises(Unauthorized):
        verify_principal(value, KEY, "odata")


def test_permissions_are_checked_by_resource_and_action() -> None:
    assert ALICE.can("products", "read")
    assert not ALICE.can("products", "delete")
