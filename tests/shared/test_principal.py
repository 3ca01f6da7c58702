from __future__ import annotations

import pytest

from shared.errors import Unauthorized
from shared.principal import SIGNATURE_LIFETIME_SECONDS, Principal, sign_principal, verify_principal

KEY = b"k" * 32
ALICE = Principal(
    user_id=7,
    username="alice",
    is_admin=False,
    permissions=frozenset({"products:read"}),
    credential_kind="api_key",
    credential_id="key-1",
)


def test_a_signed_principal_round_trips() -> None:
    assert verify_principal(sign_principal(ALICE, KEY), KEY) == ALICE


def test_a_principal_signed_with_another_key_is_refused() -> None:
    with pytest.raises(Unauthorized, match="signature"):
        verify_principal(sign_principal(ALICE, b"x" * 32), KEY)


def test_a_tampered_principal_is_refused() -> None:
    _, signature = sign_principal(ALICE, KEY).split(".")
    forged = sign_principal(Principal.from_dict({**ALICE.to_dict(), "is_admin": True}), KEY).split(".")[0]
    with pytest.raises(Unauthorized):
        verify_principal(f"{forged}.{signature}", KEY)


def test_an_expired_signature_is_refused() -> None:
    value = sign_principal(ALICE, KEY, now=1000.0)
    with pytest.raises(Unauthorized, match="Expired"):
        verify_principal(value, KEY, now=1000.0 + SIGNATURE_LIFETIME_SECONDS + 1)


@pytest.mark.parametrize("value", ["", "nodot", "a.b.c", "x" * 20000])
def test_malformed_principal_headers_are_refused(value: str) -> None:
    with pytest.raises(Unauthorized):
        verify_principal(value, KEY)


def test_permissions_are_checked_by_resource_and_action() -> None:
    assert ALICE.can("products", "read")
    assert not ALICE.can("products", "delete")
