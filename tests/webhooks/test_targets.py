"""Which addresses deliveries may go to, and which URLs can be receivers at all."""

from __future__ import annotations

import ipaddress

import pytest

from services.webhooks.config import parse_schedule
from services.webhooks.signing import SecretCipher, generate_secret
from services.webhooks.targets import AddressPolicy, InvalidTarget, validate_url
from shared.config import ConfigError

REFUSED = (
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",  # noqa: S104 (an address refused as a receiver, not one bound to)
    "255.255.255.255",
    "224.0.0.1",
    "::1",
    "fe80::1",
    "fd00::1",
    "fc00::1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::",
    "fd00:ec2::254",
)


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused_by_default(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"))
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_operator_may_allow_private_targets_but_never_metadata_or_multicast() -> None:
    policy = AddressPolicy(allow_private=True)
    assert policy.refusal(ipaddress.ip_address("10.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) is not None
    assert policy.refusal(ipaddress.ip_address("224.0.0.1")) is not None


def test_an_allowed_network_opens_only_itself() -> None:
    policy = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("10.0.0.1")) is not None


@pytest.mark.parametrize(
    "url",
    (
        "ftp://example.com/",
        "http://user:pass@example.com/",
        "https://example.com/#frag",
        "http:///path",
        "https://exa mple.com/",
        "x" * 10,
        "https://example.com/" + "a" * 2000,
    ),
)
def test_urls_that_cannot_be_receivers_are_refused(url: str) -> None:
    with pytest.raises(InvalidTarget):
        validate_url(url)


def test_the_retry_schedule_is_read_with_units() -> None:
    assert parse_schedule("5s,5m,2h,250ms") == (5.0, 300.0, 7200.0, 0.25)
    with pytest.raises(ConfigError):
        parse_schedule("5 parsecs")


def test_a_secret_encrypted_for_one_subscription_does_not_decrypt_for_another() -> None:
    cipher = SecretCipher(b"k" * 40)
    secret = generate_secret()
    blob = cipher.encrypt(secret, "subscription-a")
    assert cipher.decrypt(blob, "subscription-a") == secret
    assert cipher.decrypt(blob, "subscription-b") is None
    assert SecretCipher(b"j" * 40).decrypt(blob, "subscription-a") is None
