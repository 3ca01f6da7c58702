from __future__ import annotations

import math

import pytest

from services.auth.config import Config
from services.auth.credentials import (
    API_KEY_PREFIX,
    BASE62,
    RANDOM_LENGTH,
    display_prefix,
    generate_api_key,
    generate_api_token,
    is_well_formed_api_key,
)
from services.auth.crypto import CredentialHasher, TokenCipher
from services.auth.throttle import ADDRESS_POLICY, PAIR_POLICY, FailedAttemptThrottle
from shared.config import ConfigError
from shared.counters import Counters


def test_an_api_key_has_a_prefix_256_random_bits_and_a_checksum() -> None:
    key = generate_api_key()
    assert key.startswith(API_KEY_PREFIX)
    assert RANDOM_LENGTH * math.log2(len(BASE62)) >= 256
    assert is_well_formed_api_key(key)
    assert len({generate_api_key() for _ in range(1000)}) == 1000


def test_a_mistyped_or_truncated_key_fails_the_checksum() -> None:
    key = generate_api_key()
    for position in range(len(API_KEY_PREFIX), len(key)):
        replacement = "0" if key[position] != "0" else "1"
        assert not is_well_formed_api_key(key[:position] + replacement + key[position + 1 :])
    assert not is_well_formed_api_key(key[:-1])
    assert not is_well_formed_api_key("xyz_" + key[4:])
    assert not is_well_formed_api_key(key[:-6] + "!!!!!!")


def test_listings_show_a_prefix_too_short_to_use() -> None:
    key = generate_api_key()
    assert display_prefix(key) == key[:12]


def test_api_tokens_are_random_and_prefixed() -> None:
    tokens = {generate_api_token() for _ in range(100)}
    assert len(tokens) == 100 and all(token.startswith("cpt_") for token in tokens)


def test_hashes_depend_on_the_pepper_and_the_credential_kind() -> None:
    one, two = CredentialHasher(b"a" * 32), CredentialHasher(b"b" * 32)
    assert one.api_key("k") == CredentialHasher(b"a" * 32).api_key("k")
    assert one.api_key("k") != two.api_key("k")
    assert one.api_key("k") != one.api_token("k")


def test_the_token_cipher_round_trips_and_binds_the_ciphertext_to_its_user() -> None:
    cipher = TokenCipher(b"k" * 32)
    blob = cipher.encrypt("cpt_secret", 7)
    assert b"cpt_secret" not in blob
    assert cipher.decrypt(blob, 7) == "cpt_secret"
    assert cipher.decrypt(blob, 8) is None
    assert TokenCipher(b"z" * 32).decrypt(blob, 7) is None
    assert cipher.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), 7) is None


async def test_the_throttle_doubles_the_wait_per_name_and_address_and_forgets_after_a_quiet_spell() -> None:
    now = [1000.0]
    throttle = FailedAttemptThrottle(Counters("t:", clock=lambda: now[0]), "login")
    for _ in range(5):
        assert await throttle.retry_after("Alice", "10.0.0.1") is None
        await throttle.record_failure("Alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.1") == 1
    assert await throttle.retry_after("alice", "10.0.0.9") is None
    assert await throttle.retry_after("bob", "10.0.0.1") is None
    now[0] += 1
    await throttle.record_failure("alice", "10.0.0.1")
    assert await throttle.retry_after("alice", "10.0.0.1") == 2
    now[0] += 2 + PAIR_POLICY.forget_after
    assert await throttle.retry_after("alice", "10.0.0.1") is None


async def test_a_success_clears_the_names_count_but_not_the_addresss() -> None:
    throttle = FailedAttemptThrottle(Counters("t:", clock=lambda: 0.0), "login")
    for _ in range(ADDRESS_POLICY.free_failures):
        await throttle.record_failure(f"user-{_}", "10.0.0.1")
    await throttle.record_success("user-0", "10.0.0.1")
    assert await throttle.retry_after("user-0", "10.0.0.1") == 1
    assert await throttle.retry_after("user-0", "10.0.0.2") is None


def test_the_config_refuses_a_short_pepper_or_encryption_key(base_env: dict[str, str]) -> None:
    good = {**base_env, "SECRET_PEPPER": "p" * 32, "ENCRYPTION_KEY": "e" * 32}
    config = Config.from_env(good)
    assert config.common.port == 0 and config.verify_cache_ttl == 60
    assert "p" * 32 not in repr(config) and "e" * 32 not in repr(config)
    with pytest.raises(ConfigError, match="SECRET_PEPPER"):
        Config.from_env({**good, "SECRET_PEPPER": "short"})
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        Config.from_env({**good, "ENCRYPTION_KEY": ""})
    with pytest.raises(ConfigError, match="VERIFY_CACHE_TTL"):
        Config.from_env({**good, "VERIFY_CACHE_TTL": "soon"})
