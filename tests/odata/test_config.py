from __future__ import annotations

import pytest

from services.odata.config import Config
from shared.config import ConfigError


def test_defaults_match_the_documented_ones(base_env: dict[str, str]) -> None:
    env = {key: value for key, value in base_env.items() if key != "LISTEN_PORT"}
    config = Config.from_env(env)
    assert config.common.port == 8082
    assert (config.max_page_size, config.default_page_size, config.statement_timeout_ms) == (1000, 100, 5000)
    assert config.public_base_url is None and config.startup_timeout == 30.0
    assert base_env["DATABASE_URL"] not in repr(config)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("MAX_PAGE_SIZE", "0", "MAX_PAGE_SIZE"),
        ("DEFAULT_PAGE_SIZE", "5000", "DEFAULT_PAGE_SIZE"),
        ("STATEMENT_TIMEOUT_MS", "soon", "STATEMENT_TIMEOUT_MS"),
        ("PUBLIC_BASE_URL", "ftp://x", "PUBLIC_BASE_URL"),
        ("DATABASE_URL", "", "DATABASE_URL"),
    ],
)
def test_malformed_settings_fail_fast_naming_the_setting(
    base_env: dict[str, str], setting: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env({**base_env, setting: value})


def test_public_base_url_loses_its_trailing_slash(base_env: dict[str, str]) -> None:
    config = Config.from_env({**base_env, "PUBLIC_BASE_URL": "https://api.example.com/"})
    assert config.public_base_url == "https://api.example.com"
