"""OAuth settings: the documented defaults (docs/oauth.md), and a clear error for a malformed value."""

from __future__ import annotations

import pytest

from services.auth.oauth.config import OAuthConfig
from shared.config import ConfigError


def test_defaults_follow_the_documented_ones() -> None:
    config = OAuthConfig.from_env({})
    assert config.issuer == "http://127.0.0.1:8080" and config.audience == config.issuer
    assert config.access_token_ttl == 30 * 86400
    assert config.code_ttl == 180
    assert config.cookie_secure == "auto" and config.signing_algorithm == "ES256"


def test_settings_are_read_from_the_environment() -> None:
    config = OAuthConfig.from_env(
        {"OAUTH_ISSUER": "https://api.example/", "OAUTH_ACCESS_TOKEN_TTL": "3600", "OAUTH_SIGNING_ALGORITHM": "rs256"}
    )
    assert config.issuer == "https://api.example" and config.access_token_ttl == 3600
    assert config.signing_algorithm == "RS256"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OAUTH_ISSUER", "ftp://x"),
        ("OAUTH_ACCESS_TOKEN_TTL", "soon"),
        ("OAUTH_CODE_TTL", "3600"),
        ("OAUTH_COOKIE_SECURE", "maybe"),
        ("OAUTH_SIGNING_ALGORITHM", "HS256"),
    ],
)
def test_malformed_setting_is_named_in_the_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        OAuthConfig.from_env({name: value})
