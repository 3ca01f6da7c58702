"""The documentation names what the code does: every route of the gateway, every setting of every service."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from services.gateway.routes import ROUTES
from tests.deploy.test_compose import RecordingEnvironment

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {
    "DATABASE_URL": "postgresql://u@h/db",
    "AMQP_URL": "amqp://u:p@h/",
    "INTERNAL_SIGNING_KEY": "k" * 40,
    "SECRET_PEPPER": "p" * 40,
    "ENCRYPTION_KEY": "e" * 40,
}


@pytest.mark.parametrize("rule", ROUTES, ids=lambda rule: rule.pattern)
def test_every_gateway_route_is_in_the_api_reference(rule: object) -> None:
    assert f"{rule.pattern}`" in (ROOT / "docs" / "api.md").read_text()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ("auth", "gateway", "odata", "importer", "webhooks"))
def test_every_setting_a_service_reads_is_in_the_readme(name: str) -> None:
    environment = RecordingEnvironment(dict(SAMPLE))
    importlib.import_module(f"services.{name}.config").Config.from_env(environment)
    readme = (ROOT / "README.md").read_text()
    missing = sorted(key for key in environment.read if key not in readme)
    assert not missing, f"README.md does not document {name}'s settings {missing}"
