from __future__ import annotations

import pytest

from shared.config import CommonConfig, ConfigError

VALID = {
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "INTERNAL_SIGNING_KEY": "s" * 40,
    "SECRET_PEPPER": "p" * 40,
    "ENCRYPTION_KEY": "e" * 40,
}


def test_valid_settings_are_read() -> None:
    config = CommonConfig.from_env(VALID, 8080, service="gateway")
    assert config.service == "gateway"
    assert config.signing_key.value == "s" * 40


@pytest.mark.parametrize(
    "value",
    [
        "change-me-internal-signing-key-0123456789",
        "x" * 40 + "CHANGE-ME",
        "Change-Me" * 5,
        "replace-me-with-at-least-32-random-characters",
    ],
)
def test_a_placeholder_secret_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="INTERNAL_SIGNING_KEY still holds the example's placeholder") as refused:
        CommonConfig.from_env({**VALID, "INTERNAL_SIGNING_KEY": value}, 8080, service="gateway")
    assert value not in str(refused.value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SECRET_PEPPER", "ENCRYPTION_KEY"),
        ("SECRET_PEPPER", "INTERNAL_SIGNING_KEY"),
        ("ENCRYPTION_KEY", "INTERNAL_SIGNING_KEY"),
    ],
)
def test_two_secrets_with_the_same_value_are_refused(first: str, second: str) -> None:
    shared_value = "same-value-" + "x" * 40
    with pytest.raises(ConfigError, match=f"{first} and {second} must be different") as refused:
        CommonConfig.from_env({**VALID, first: shared_value, second: shared_value}, 8080, service="auth")
    assert shared_value not in str(refused.value)


def test_a_placeholder_password_in_a_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="AMQP_URL still holds the example's placeholder password") as refused:
        CommonConfig.from_env({**VALID, "AMQP_URL": "amqp://app:change-me-rabbit@mq:5672/"}, 8080, service="auth")
    assert "change-me-rabbit" not in str(refused.value)


@pytest.mark.parametrize(("service", "port"), [("gateway", 9080), ("auth", 9081), ("odata", 9082), ("importer", 9083)])
def test_each_service_has_its_own_default_metrics_port_on_loopback(service: str, port: int) -> None:
    config = CommonConfig.from_env(VALID, 8080, service=service)
    assert (config.metrics_host, config.metrics_port) == ("127.0.0.1", port)


def test_metrics_port_0_disables_the_metrics_listener() -> None:
    assert CommonConfig.from_env({**VALID, "METRICS_PORT": "0"}, 8080, service="odata").metrics_port == 0
