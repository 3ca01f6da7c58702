"""The compose file checked against what the services really read, without starting it (test_compose_stack.py
starts it)."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("auth", "gateway", "odata", "importer")
# Compose service -> the package it runs.
APP_CONTAINERS = {
    "auth": "auth",
    "gateway": "gateway",
    "odata": "odata",
    "importer": "importer",
    "importer-worker": "importer",
}
# Settings compose gives every replica for features a checkout may not have yet: excused only while no service
# reads them at all, so once one does, every service compose gives them to must.
FEATURE_SETTINGS = ("REDIS_URL", "METRICS_HOST", "METRICS_PORT")
SAMPLE_SECRET = "s" * 40
_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def substitute(value: str) -> str:
    """Resolve ${X:-default} to its default and ${X:?message} to a valid sample, as compose would with a .env
    (one sample per variable: the services refuse two secrets with the same value)."""

    def resolve(match: re.Match[str]) -> str:
        operator, argument = match.group(2), match.group(3)
        return argument if operator == "-" else f"{SAMPLE_SECRET}-{match.group(1)}"

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


def load_entrypoint() -> Any:
    spec = importlib.util.spec_from_file_location("entrypoint", ROOT / "deploy" / "container" / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service_environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    """What the service process sees: compose's environment after the image's entrypoint built the URLs."""
    raw = {key: substitute(str(value)) for key, value in compose["services"][name]["environment"].items()}
    return dict(load_entrypoint().connection_urls(raw))


def reads(package: str, key: str) -> bool:
    environment = RecordingEnvironment(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "AMQP_URL": "amqp://u:p@h/",
            "INTERNAL_SIGNING_KEY": "k" * 40,
            "SECRET_PEPPER": "p" * 40,
            "ENCRYPTION_KEY": "e" * 40,
        }
    )
    importlib.import_module(f"services.{package}.config").Config.from_env(environment)
    return key in environment.read


def test_compose_runs_postgresql_rabbitmq_and_redis_with_health_checks(compose: dict[str, Any]) -> None:
    for name in ("postgres", "rabbitmq", "redis"):
        assert "healthcheck" in compose["services"][name]


@pytest.mark.parametrize("name", [*APP_CONTAINERS, "init", "preflight"])
def test_each_app_service_is_built_from_the_one_dockerfile(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / service["build"]["dockerfile"]).is_file()


@pytest.mark.parametrize("name", APP_CONTAINERS)
def test_each_service_runs_its_package(compose: dict[str, Any], name: str) -> None:
    assert compose["services"][name]["command"] == ["python", "-m", f"services.{APP_CONTAINERS[name]}"]
    assert (ROOT / "services" / APP_CONTAINERS[name] / "__main__.py").is_file()


@pytest.mark.parametrize("name", APP_CONTAINERS)
def test_each_service_starts_after_init_and_healthy_stores_and_has_a_readiness_check(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    port = service["environment"]["LISTEN_PORT"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])


def test_the_stores_start_only_after_the_preflight_check_of_the_secrets(compose: dict[str, Any]) -> None:
    for name in ("postgres", "rabbitmq", "redis"):
        condition = compose["services"][name]["depends_on"]["preflight"]["condition"]
        assert condition == "service_completed_successfully"
    assert compose["services"]["preflight"]["command"] == ["--check"]


@pytest.mark.parametrize("name", APP_CONTAINERS)
def test_compose_environment_is_exactly_what_the_service_reads(compose: dict[str, Any], name: str) -> None:
    package = APP_CONTAINERS[name]
    config_module = importlib.import_module(f"services.{package}.config")
    environment = RecordingEnvironment(service_environment(compose, name))
    config = config_module.Config.from_env(environment)
    assert config.common.port == int(environment["LISTEN_PORT"])
    excused = {key for key in FEATURE_SETTINGS if not any(reads(p, key) for p in set(APP_CONTAINERS.values()))}
    unread = set(service_environment(compose, name)) - environment.read - excused
    assert not unread, f"compose sets variables {name} never reads: {sorted(unread)}"


def test_the_importer_api_and_its_workers_are_separate_services(compose: dict[str, Any]) -> None:
    assert compose["services"]["importer"]["environment"]["IMPORTER_WORKER"] == "false"
    assert compose["services"]["importer-worker"]["environment"]["IMPORTER_WORKER"] == "true"
    assert compose["services"]["gateway"]["environment"]["IMPORTER_URL"] == "http://importer:8083"


@pytest.mark.parametrize("name", ["gateway", "odata", "importer-worker"])
def test_scaled_services_keep_their_replica_count_in_the_file(compose: dict[str, Any], name: str) -> None:
    assert compose["services"][name]["deploy"]["replicas"] >= 2


@pytest.mark.parametrize("name", APP_CONTAINERS)
def test_no_replica_has_a_fixed_host_port_or_name(compose: dict[str, Any], name: str) -> None:
    assert "ports" not in compose["services"][name]
    assert "container_name" not in compose["services"][name]


def test_only_the_proxy_is_published_and_monitoring_only_on_loopback(compose: dict[str, Any]) -> None:
    published = [name for name, service in compose["services"].items() if "ports" in service]
    assert sorted(published) == ["prometheus", "proxy"]
    assert compose["services"]["prometheus"]["profiles"] == ["monitoring"]
    assert all(port.startswith("127.0.0.1:") for port in compose["services"]["prometheus"]["ports"])
    assert sorted(port.split(":")[-1] for port in compose["services"]["proxy"]["ports"]) == ["443", "80"]


def test_the_gateways_trust_only_the_proxy_network(compose: dict[str, Any]) -> None:
    subnet = substitute(compose["networks"]["edge"]["ipam"]["config"][0]["subnet"])
    assert substitute(compose["services"]["gateway"]["environment"]["TRUSTED_PROXIES"]) == subnet
    assert compose["services"]["proxy"]["networks"] == ["edge"]
    on_edge = [name for name, service in compose["services"].items() if "edge" in service.get("networks", [])]
    assert sorted(on_edge) == ["gateway", "proxy"]


def test_rabbitmq_keeps_one_node_name_across_recreations(compose: dict[str, Any]) -> None:
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["environment"]["RABBITMQ_NODENAME"] == f"rabbit@{rabbitmq['hostname']}"
    assert "rabbitmq-data:/var/lib/rabbitmq" in rabbitmq["volumes"]


def test_every_secret_is_required_so_a_missing_one_stops_up() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for key in (
        "INTERNAL_SIGNING_KEY",
        "SECRET_PEPPER",
        "ENCRYPTION_KEY",
        "POSTGRES_PASSWORD",
        "RABBITMQ_PASSWORD",
        "REDIS_PASSWORD",
    ):
        uses = re.findall(r"\$\{" + key + r"(:?[-?])?", text)
        assert uses and all(operator == ":?" for operator in uses), key


def test_the_example_env_cannot_be_started_as_is() -> None:
    entrypoint = load_entrypoint()
    example = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "compose.env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    for key in entrypoint.SECRETS:
        assert "change-me" in example[key]
    with pytest.raises(entrypoint.SettingError, match="placeholder"):
        entrypoint.check_secrets(example)


def test_reused_service_keys_are_refused() -> None:
    entrypoint = load_entrypoint()
    with pytest.raises(entrypoint.SettingError, match="different"):
        entrypoint.check_secrets({"INTERNAL_SIGNING_KEY": "x" * 40, "SECRET_PEPPER": "x" * 40})


def test_env_files_stay_out_of_git_and_of_images() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "**/.env", ".venv/", ".git/"} <= set(ignored)
