"""No Docker engine runs here, so the compose file is checked against what the services really read."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("auth", "gateway", "odata", "importer", "webhooks")
SAMPLE_SECRET = "s" * 40
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def substitute(value: str) -> str:
    """Resolve ${X:-default} to its default and ${X:?message} to a valid sample, as compose would with a .env."""

    def resolve(match: re.Match[str]) -> str:
        operator, argument = match.group(2), match.group(3)
        return argument if operator == "-" else SAMPLE_SECRET

    return _VARIABLE.sub(resolve, value)


class RecordingEnvironment(dict[str, str]):
    """An environment that remembers every key a Config asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service_environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    return {key: substitute(str(value)) for key, value in compose["services"][name]["environment"].items()}


def test_compose_runs_postgresql_and_rabbitmq_with_health_checks(compose: dict[str, Any]) -> None:
    for name in ("postgres", "rabbitmq"):
        assert "healthcheck" in compose["services"][name]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_is_built_from_the_one_dockerfile(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / service["build"]["dockerfile"]).is_file()
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert (ROOT / "services" / name / "__main__.py").is_file()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_waits_for_healthy_dependencies_and_has_a_readiness_check(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert all(dep["condition"] == "service_healthy" for dep in service["depends_on"].values())
    assert "postgres" in service["depends_on"] or name == "gateway"
    assert "rabbitmq" in service["depends_on"] or name == "odata"
    assert "/readyz" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_environment_is_exactly_what_the_service_reads(compose: dict[str, Any], name: str) -> None:
    config_module = importlib.import_module(f"services.{name}.config")
    environment = RecordingEnvironment(service_environment(compose, name))
    config = config_module.Config.from_env(environment)
    assert config.common.port == int(environment["LISTEN_PORT"])
    unread = set(service_environment(compose, name)) - environment.read
    assert not unread, f"compose sets variables {name} never reads: {sorted(unread)}"


@pytest.mark.parametrize("name", ("odata", "importer", "webhooks"))
def test_scalable_services_publish_no_fixed_host_port(compose: dict[str, Any], name: str) -> None:
    assert "ports" not in compose["services"][name]
    assert "container_name" not in compose["services"][name]


def test_only_the_gateway_is_exposed_to_the_host(compose: dict[str, Any]) -> None:
    exposed = [name for name, service in compose["services"].items() if "ports" in service]
    assert exposed == ["gateway"]


def test_compose_holds_no_secret_values(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for key in ("INTERNAL_SIGNING_KEY", "SECRET_PEPPER", "ENCRYPTION_KEY", "POSTGRES_PASSWORD"):
        for line in text.splitlines():
            if line.strip().startswith(f"{key}:"):
                assert "${" in line, f"{key} must come from the environment, not the file"
