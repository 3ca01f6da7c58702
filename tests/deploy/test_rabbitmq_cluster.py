"""The three-node RabbitMQ cluster (docker-compose.rabbitmq-cluster.yml over docker-compose.yml), checked without
starting it: node names, discovery list, volumes, the shared cookie and the name the services connect to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_compose import APP_CONTAINERS, load_entrypoint

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_FILE = ROOT / "docker-compose.rabbitmq-cluster.yml"
NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
CONFIG_MOUNT = "/etc/rabbitmq/conf.d/20-cluster.conf"


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    return dict(yaml.safe_load(CLUSTER_FILE.read_text())["services"])


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def cluster_conf() -> dict[str, str]:
    lines = (ROOT / "deploy" / "rabbitmq" / "cluster.conf").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def node_name(service: dict[str, Any]) -> str:
    return str(service["environment"]["RABBITMQ_NODENAME"])


def test_three_nodes_each_with_a_fixed_host_and_node_name(cluster: dict[str, Any]) -> None:
    hostnames = [cluster[name]["hostname"] for name in NODES]
    assert hostnames == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
    assert [node_name(cluster[name]) for name in NODES] == [f"rabbit@{host}" for host in hostnames]


def test_each_node_keeps_its_data_in_its_own_volume(cluster: dict[str, Any]) -> None:
    volumes = [
        next(volume.split(":")[0] for volume in cluster[name]["volumes"] if volume.endswith(":/var/lib/rabbitmq"))
        for name in NODES
    ]
    assert len(set(volumes)) == 3
    declared = yaml.safe_load(CLUSTER_FILE.read_text())["volumes"]
    assert set(volumes) <= set(declared)


def test_the_nodes_discover_each_other_from_the_classic_config_list(cluster: dict[str, Any]) -> None:
    conf = cluster_conf()
    assert conf["cluster_formation.peer_discovery_backend"] == "classic_config"
    listed = {value for key, value in conf.items() if key.startswith("cluster_formation.classic_config.nodes.")}
    assert listed == {node_name(cluster[name]) for name in NODES}
    for name in NODES:
        assert f"./deploy/rabbitmq/cluster.conf:{CONFIG_MOUNT}:ro" in cluster[name]["volumes"]


def test_the_nodes_share_one_required_cookie_checked_before_start(cluster: dict[str, Any]) -> None:
    cookies = {cluster[name]["environment"]["RABBITMQ_ERLANG_COOKIE"] for name in NODES}
    assert len(cookies) == 1
    assert cookies.pop().startswith("${RABBITMQ_ERLANG_COOKIE:?")
    assert "RABBITMQ_ERLANG_COOKIE" in cluster["preflight"]["environment"]
    entrypoint = load_entrypoint()
    with pytest.raises(entrypoint.SettingError, match="RABBITMQ_ERLANG_COOKIE"):
        entrypoint.check_secrets({"RABBITMQ_ERLANG_COOKIE": "change-me"})


def test_every_node_answers_to_the_host_name_the_services_connect_to(
    cluster: dict[str, Any], base: dict[str, Any]
) -> None:
    environments = [base[name]["environment"] for name in (*APP_CONTAINERS, "init")]
    assert {env["RABBITMQ_HOST"] for env in environments if "RABBITMQ_HOST" in env} == {"rabbitmq"}
    for name in NODES[1:]:
        assert cluster[name]["networks"]["backend"]["aliases"] == ["rabbitmq"]
    # The shared name is never a node's own: Erlang distribution must reach exactly the node it names.
    for name in NODES:
        assert cluster[name]["hostname"] != "rabbitmq"
        assert cluster[name]["hostname"] in [name, *cluster[name]["networks"]["backend"]["aliases"]]


def test_the_services_start_once_every_node_is_healthy_so_quorum_queues_span_all_three(cluster: dict[str, Any]) -> None:
    for name in APP_CONTAINERS:
        depends = cluster[name]["depends_on"]
        assert {node: depends[node]["condition"] for node in NODES[1:]} == dict.fromkeys(NODES[1:], "service_healthy")


def test_compose_accepts_the_cluster_over_the_main_file(tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    secrets = ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_ERLANG_COOKIE")
    keys = ("INTERNAL_SIGNING_KEY", "SECRET_PEPPER", "ENCRYPTION_KEY")
    env_file = tmp_path / "cluster.env"
    env_file.write_text("".join(f"{key}=sample-{n}\n" for n, key in enumerate(secrets + keys)))
    result = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "-f", CLUSTER_FILE.name, "--env-file", str(env_file), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load(result.stdout)["services"]
    assert merged["rabbitmq"]["volumes"] == [
        f"{ROOT}/deploy/rabbitmq/cluster.conf:{CONFIG_MOUNT}:ro",
        "rabbitmq-1-data:/var/lib/rabbitmq:rw",
    ]
    assert merged["rabbitmq"]["environment"]["RABBITMQ_NODENAME"] == "rabbit@rabbitmq-1"
