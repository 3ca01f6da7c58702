"""The gateway's bounded memory of revocations (services/gateway/revocation_list.py) and how JWTs are checked against
it (services/gateway/jwt_verifier.py)."""

from __future__ import annotations

from services.gateway.jwt_verifier import JwtVerifier
from services.gateway.revocation_list import ExpiringEntries
from shared.messages import CredentialRevoked

NOW = 1_000_000.0


def test_when_full_the_entries_that_expire_first_are_dropped() -> None:
    entries: ExpiringEntries[str] = ExpiringEntries(2, clock=lambda: NOW)
    entries.put("late", 0.0, NOW + 300)
    entries.put("early", 0.0, NOW + 100)
    entries.put("middle", 0.0, NOW + 200)
    assert ("late" in entries, "middle" in entries, "early" in entries) == (True, True, False)


def test_the_entry_just_added_is_kept_even_when_it_expires_first() -> None:
    entries: ExpiringEntries[str] = ExpiringEntries(2, clock=lambda: NOW)
    entries.put("a", 0.0, NOW + 300)
    entries.put("b", 0.0, NOW + 200)
    entries.put("newest", 0.0, NOW + 100)
    assert ("newest" in entries, "a" in entries, "b" in entries) == (True, True, False)


def test_an_entry_is_forgotten_once_its_deadline_has_passed() -> None:
    now = [NOW]
    entries: ExpiringEntries[str] = ExpiringEntries(10, clock=lambda: now[0])
    entries.put("jti", 0.0, NOW + 60)
    assert "jti" in entries
    now[0] += 61
    assert "jti" not in entries
    entries.put("other", 0.0, now[0] + 60)
    assert len(entries) == 1


def test_a_key_seen_again_keeps_the_later_time() -> None:
    entries: ExpiringEntries[int] = ExpiringEntries(10, clock=lambda: NOW)
    entries.put(7, NOW - 10, NOW + 100)
    entries.put(7, NOW - 50, NOW + 50)
    assert entries.get(7) == NOW - 10


def _verifier(**settings: object) -> JwtVerifier:
    return JwtVerifier("http://127.0.0.1:9/jwks", "iss", "aud", clock=lambda: NOW, **settings)  # type: ignore[arg-type]


def test_a_users_tokens_issued_before_the_auth_services_not_before_time_are_revoked() -> None:
    verifier = _verifier()
    verifier.handle_revocation(CredentialRevoked(reason="user_deactivated", user_id=5, not_before=NOW - 100))
    assert verifier.is_revoked("jti-1", 5, NOW - 101)
    assert not verifier.is_revoked("jti-2", 5, NOW - 100)
    assert not verifier.is_revoked("jti-3", 6, NOW - 101)


def test_a_malformed_not_before_time_falls_back_to_the_gateways_clock() -> None:
    verifier = _verifier()
    verifier.handle_revocation(CredentialRevoked(reason="x", user_id=5, not_before="soon"))  # type: ignore[arg-type]
    assert verifier.is_revoked("jti", 5, NOW - 1)


def test_a_full_list_of_revoked_tokens_keeps_the_newest_revocation() -> None:
    verifier = _verifier(max_revoked_tokens=2)
    verifier.revoke_token("expires-last", NOW + 300)
    verifier.revoke_token("expires-first", NOW + 100)
    verifier.revoke_token("revoked-last", NOW + 200)
    assert verifier.is_revoked("revoked-last", None, NOW)
    assert verifier.is_revoked("expires-last", None, NOW)
    assert not verifier.is_revoked("expires-first", None, NOW)
