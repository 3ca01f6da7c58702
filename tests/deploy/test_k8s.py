"""The Kubernetes manifests (deploy/k8s) rendered offline and checked against the Kubernetes JSON schemas and
against what the services really read, listen on and answer."""

from __future__ import annotations

import copy
import importlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from tests.deploy.test_compose import (
    FEATURE_SETTINGS,
    RecordingEnvironment,
    load_entrypoint,
    service_environment,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
SECRET_NAME = "platform-secrets"
# Deployment -> the package it runs.
DEPLOYMENTS = {
    "gateway": "gateway",
    "auth": "auth",
    "odata": "odata",
    "importer": "importer",
    "importer-worker": "importer",
    "webhooks": "webhooks",
}
AUTOSCALED = ("gateway", "odata", "importer-worker")
# Settings given for a service that a checkout may not have yet: excused only while no service reads them.
NEWER_SETTINGS = (*FEATURE_SETTINGS, "WEBHOOKS_URL")
# Read by deploy/container/init.py itself; the rest of the Job's settings by the importer's and auth's Config.
INIT_SETTINGS = ("ADMIN_USERNAME", "ADMIN_PASSWORD")
# The oldest Kubernetes the manifests are for, and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "replicas", "patches"}


# A small kustomize: resources (files and directories), patches (strategic merge of maps; lists replaced, so a
# patch may not touch a list that kustomize would merge by name), namespace, labels, images and replicas. Anything
# else in a kustomization is refused, so the manifests cannot outgrow what this renders; where kubectl is
# installed, a test below compares its output with `kubectl kustomize`.


def render(directory: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    assert not unsupported, f"{directory}: the test's renderer does not support {sorted(unsupported)}"
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        objects.extend(render(path) if path.is_dir() else read_objects(path))
    for patch in kustomization.get("patches", []):
        for document in read_objects(directory / patch["path"]):
            apply_patch(objects, document)
    _set_namespace(objects, kustomization)
    _add_labels(objects, kustomization)
    _set_images(objects, kustomization)
    _set_replicas(objects, kustomization)
    return objects


def _set_namespace(objects: list[dict[str, Any]], kustomization: dict[str, Any]) -> None:
    if "namespace" in kustomization:
        for item in objects:
            if item["kind"] not in CLUSTER_SCOPED:
                item["metadata"]["namespace"] = kustomization["namespace"]


def _add_labels(objects: list[dict[str, Any]], kustomization: dict[str, Any]) -> None:
    for label in kustomization.get("labels", []):
        assert not label.get("includeSelectors", False), "selectors stay as the base wrote them"
        for item in objects:
            item["metadata"].setdefault("labels", {}).update(label["pairs"])
            if label.get("includeTemplates", False) and item["kind"] in POD_OWNERS:
                item["spec"]["template"]["metadata"].setdefault("labels", {}).update(label["pairs"])


def _set_images(objects: list[dict[str, Any]], kustomization: dict[str, Any]) -> None:
    for image in kustomization.get("images", []):
        for container in (c for item in objects for c in containers(item)):
            if re.split(r"[:@]", container["image"].rsplit("/", 1)[-1])[0] == image["name"]:
                tag = container["image"].rsplit(":", 1)[1] if ":" in container["image"] else "latest"
                container["image"] = f"{image.get('newName', image['name'])}:{image.get('newTag', tag)}"


def _set_replicas(objects: list[dict[str, Any]], kustomization: dict[str, Any]) -> None:
    for replicas in kustomization.get("replicas", []):
        matches = [item for item in objects if item["kind"] == "Deployment" and name(item) == replicas["name"]]
        assert matches, f"replicas for a Deployment that does not exist: {replicas['name']}"
        for item in matches:
            item["spec"]["replicas"] = replicas["count"]


def read_objects(path: Path) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load_all(path.read_text()) if item]


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any]) -> None:
    targets = [item for item in objects if item["kind"] == patch["kind"] and name(item) == name(patch)]
    assert len(targets) == 1, f"the patch for {patch['kind']}/{name(patch)} matches {len(targets)} objects"
    merge(targets[0], patch)


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            assert not (isinstance(value, list) and any(isinstance(v, dict) and "name" in v for v in value)), (
                f"a patch replaces the list {key}, which kustomize would merge item by item"
            )
            target[key] = copy.deepcopy(value)


def name(item: dict[str, Any]) -> str:
    return str(item["metadata"]["name"])


def pod_spec(item: dict[str, Any]) -> dict[str, Any] | None:
    return item["spec"]["template"]["spec"] if item["kind"] in POD_OWNERS else None


def containers(item: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(item)
    return [] if spec is None else [*spec.get("initContainers", []), *spec["containers"]]


def identity(item: dict[str, Any]) -> str:
    return f"{item['kind']}/{name(item)}"


RENDERED = {"base": render(BASE), "overlay": render(OVERLAY)}


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render(OVERLAY)


def find(objects: list[dict[str, Any]], kind: str, wanted: str) -> dict[str, Any]:
    matches = [item for item in objects if item["kind"] == kind and name(item) == wanted]
    assert len(matches) == 1, f"{kind}/{wanted}: {len(matches)} found"
    return matches[0]


def deployment_container(objects: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    (container,) = containers(find(objects, "Deployment", deployment))
    return container


def config_class(package: str) -> Any:
    if not (ROOT / "services" / package / "config.py").is_file():
        pytest.skip(f"services/{package} is not in this checkout")
    return importlib.import_module(f"services.{package}.config").Config


def packages_here() -> list[str]:
    return sorted({package for package in DEPLOYMENTS.values() if (ROOT / "services" / package).is_dir()})


def sample_secret(key: str) -> str:
    """A different value per key, with the characters that break a URL when pasted unencoded."""
    return f"{key}:/+@%#?=".ljust(48, "x")


def container_environment(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment Kubernetes gives the container: envFrom ConfigMaps, then env (which wins)."""
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        elif "configMapKeyRef" in variable["valueFrom"]:
            reference = variable["valueFrom"]["configMapKeyRef"]
            environment[variable["name"]] = find(objects, "ConfigMap", reference["name"])["data"][reference["key"]]
        else:
            environment[variable["name"]] = sample_secret(variable["valueFrom"]["secretKeyRef"]["key"])
    return environment


def service_sees(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """What the service process sees: the container's environment after the image's entrypoint built the URLs."""
    environment = container_environment(objects, container)
    load_entrypoint().check_secrets(environment)
    return dict(load_entrypoint().connection_urls(environment))


def sample_reads(package: str, key: str) -> bool:
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


def excused() -> set[str]:
    return {key for key in NEWER_SETTINGS if not any(sample_reads(package, key) for package in packages_here())}


def port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def deployments_selected(objects: list[dict[str, Any]], selector: dict[str, str]) -> list[dict[str, Any]]:
    return [
        item
        for item in objects
        if item["kind"] == "Deployment" and selects(selector, item["spec"]["template"]["metadata"]["labels"])
    ]


def pod_labels(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [item["spec"]["template"]["metadata"]["labels"] for item in objects if item["kind"] in POD_OWNERS]


# --- rendering and schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "item",
    [pytest.param(item, id=f"{which}-{identity(item)}") for which, items in RENDERED.items() for item in items],
)
def test_every_rendered_object_is_valid_against_the_kubernetes_schema(item: dict[str, Any], version: str) -> None:
    # strict: an unknown or misspelt field is an error, not silently dropped by the API server.
    kubernetes_validate.validate(item, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_example_secret_is_valid_against_the_kubernetes_schema(version: str) -> None:
    (secret,) = read_objects(K8S / "secret.example.yaml")
    kubernetes_validate.validate(secret, version, strict=True)


def test_schema_validation_refuses_a_misspelt_field() -> None:
    broken = copy.deepcopy(find(RENDERED["overlay"], "Deployment", "gateway"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_the_loader_renders_what_kubectl_kustomize_renders(directory: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (Debian's kubernetes-client is too old for these kustomizations)")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True)
    rendered = sorted(read_objects_text(result.stdout), key=identity)
    assert rendered == sorted(render(directory), key=identity)


def read_objects_text(text: str) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load_all(text) if item]


def test_the_overlay_renders_every_object_of_the_base_once() -> None:
    base = sorted(identity(item) for item in RENDERED["base"])
    overlay = sorted(identity(item) for item in RENDERED["overlay"] if item["kind"] != "Namespace")
    assert overlay == base
    assert len(set(base)) == len(base)


def test_the_overlay_puts_everything_in_its_namespace_with_its_image(objects: list[dict[str, Any]]) -> None:
    (namespace,) = [name(item) for item in objects if item["kind"] == "Namespace"]
    assert all(item["metadata"]["namespace"] == namespace for item in objects if item["kind"] != "Namespace")
    images = {container["image"] for item in objects for container in containers(item)}
    assert images == {"registry.example.com/commerce-platform:0.1.0"}


# --- workloads ---------------------------------------------------------------------------------------------------


def test_there_is_a_deployment_per_service_and_the_init_job(objects: list[dict[str, Any]]) -> None:
    assert {name(item) for item in objects if item["kind"] == "Deployment"} == set(DEPLOYMENTS)
    assert [name(item) for item in objects if item["kind"] == "Job"] == ["init"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_each_container_runs_its_package_through_the_images_entrypoint(
    objects: list[dict[str, Any]], deployment: str
) -> None:
    container = deployment_container(objects, deployment)
    config_class(DEPLOYMENTS[deployment])
    # args, not command: command would replace the entrypoint that builds the connection URLs.
    assert "command" not in container
    assert container["args"] == ["python", "-m", f"services.{DEPLOYMENTS[deployment]}"]
    assert (ROOT / "services" / DEPLOYMENTS[deployment] / "__main__.py").is_file()


def test_the_init_job_runs_the_init_script_the_image_carries(objects: list[dict[str, Any]]) -> None:
    (container,) = containers(find(objects, "Job", "init"))
    assert "command" not in container
    script = container["args"][-1]
    assert container["args"] == ["python", script]
    assert script.startswith("/app/deploy/container/")
    assert "COPY deploy/container /app/deploy/container" in (ROOT / "deploy" / "Dockerfile").read_text()
    assert (ROOT / "deploy" / "container" / Path(script).name).is_file()
    assert find(objects, "Job", "init")["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_each_deployment_probes_the_services_health_routes_on_its_listen_port(
    objects: list[dict[str, Any]], deployment: str
) -> None:
    container = deployment_container(objects, deployment)
    config = config_class(DEPLOYMENTS[deployment]).from_env(RecordingEnvironment(service_sees(objects, container)))
    readiness, liveness = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert (readiness["path"], liveness["path"]) == ("/readyz", "/healthz")
    assert port_number(container, readiness["port"]) == config.common.port
    assert port_number(container, liveness["port"]) == config.common.port
    assert port_number(container, "http") == config.common.port


@pytest.mark.parametrize("package", sorted(set(DEPLOYMENTS.values())))
def test_the_probed_paths_are_routes_the_service_serves(package: str) -> None:
    config = config_class(package).from_env(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "AMQP_URL": "amqp://u:p@h/",
            "INTERNAL_SIGNING_KEY": "k" * 40,
            "SECRET_PEPPER": "p" * 40,
            "ENCRYPTION_KEY": "e" * 40,
        }
    )
    app = importlib.import_module(f"services.{package}.app").create_app(config)
    served = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    assert {("GET", "/healthz"), ("GET", "/readyz")} <= served


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_the_startup_probe_outlasts_the_services_wait_for_its_stores(
    objects: list[dict[str, Any]], deployment: str
) -> None:
    container = deployment_container(objects, deployment)
    probe = container["startupProbe"]
    assert probe["httpGet"] == container["livenessProbe"]["httpGet"]
    startup_timeout = float(service_sees(objects, container)["STARTUP_TIMEOUT"])
    assert probe["periodSeconds"] * probe["failureThreshold"] > startup_timeout


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_a_stopping_pod_gets_time_to_drain(objects: list[dict[str, Any]], deployment: str) -> None:
    item = find(objects, "Deployment", deployment)
    container = deployment_container(objects, deployment)
    pause = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["sleep", "0"])
    assert pause[0] == "sleep"
    shutdown = float(service_sees(objects, container)["SHUTDOWN_TIMEOUT"])
    assert item["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > shutdown + float(pause[1])


@pytest.mark.parametrize("deployment", [d for d in DEPLOYMENTS if d != "importer-worker"])
def test_each_deployment_with_traffic_pauses_before_stopping(objects: list[dict[str, Any]], deployment: str) -> None:
    assert deployment_container(objects, deployment)["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


def test_the_importer_api_and_its_workers_are_separate_deployments(objects: list[dict[str, Any]]) -> None:
    config = config_class("importer")
    api = config.from_env(service_sees(objects, deployment_container(objects, "importer")))
    worker = config.from_env(service_sees(objects, deployment_container(objects, "importer-worker")))
    assert (api.worker_enabled, worker.worker_enabled) == (False, True)
    assert not [item for item in objects if item["kind"] == "Service" and name(item) == "importer-worker"]


# --- settings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_each_container_gets_only_settings_its_service_reads(objects: list[dict[str, Any]], deployment: str) -> None:
    config = config_class(DEPLOYMENTS[deployment])
    environment = RecordingEnvironment(service_sees(objects, deployment_container(objects, deployment)))
    config.from_env(environment)
    unread = set(environment) - environment.read - excused()
    assert not unread, f"{deployment} is given settings it never reads: {sorted(unread)}"


def test_the_init_job_gets_only_settings_init_reads(objects: list[dict[str, Any]]) -> None:
    (container,) = containers(find(objects, "Job", "init"))
    environment = service_sees(objects, container)
    read: set[str] = set(INIT_SETTINGS)
    for package in ("importer", "auth"):
        recording = RecordingEnvironment(environment)
        config_class(package).from_env(recording)
        read |= recording.read
    assert not set(environment) - read - excused()
    assert {"DATABASE_URL", "AMQP_URL", "SECRET_PEPPER", "ENCRYPTION_KEY", "ADMIN_USERNAME"} <= set(environment)


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_each_container_gets_the_settings_compose_gives_the_same_service(
    objects: list[dict[str, Any]], deployment: str
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    if deployment not in compose["services"]:
        pytest.skip(f"docker-compose.yml has no {deployment} service in this checkout")
    from_compose = set(service_environment(compose, deployment))
    from_kubernetes = set(service_sees(objects, deployment_container(objects, deployment)))
    assert from_compose <= from_kubernetes
    assert from_kubernetes - from_compose <= {"WEBHOOKS_URL"}


def test_the_connection_urls_are_built_from_parts_with_the_passwords_encoded(objects: list[dict[str, Any]]) -> None:
    container = deployment_container(objects, "auth")
    environment = service_sees(objects, container)
    for key, scheme in (("DATABASE_URL", "postgresql"), ("AMQP_URL", "amqp"), ("REDIS_URL", "redis")):
        parts = urlsplit(environment[key])
        assert parts.scheme == scheme
        assert parts.hostname and parts.port
        assert "@" not in parts.path + parts.query + parts.fragment
    assert not any(key.startswith(("POSTGRES_", "RABBITMQ_", "REDIS_")) for key in environment if key != "REDIS_URL")


def test_the_public_url_is_the_ingress_host_over_https(objects: list[dict[str, Any]]) -> None:
    public = urlsplit(find(objects, "ConfigMap", "platform-public")["data"]["PUBLIC_BASE_URL"])
    ingress = find(objects, "Ingress", "gateway")["spec"]
    assert public.scheme == "https"
    assert [rule["host"] for rule in ingress["rules"]] == [public.hostname]
    assert [host for tls in ingress["tls"] for host in tls["hosts"]] == [public.hostname]
    gateway = service_sees(objects, deployment_container(objects, "gateway"))
    odata = service_sees(objects, deployment_container(objects, "odata"))
    assert gateway["OAUTH_ISSUER"] == odata["PUBLIC_BASE_URL"] == public.geturl()


UPSTREAMS = [
    ("gateway", "AUTH_URL"),
    ("gateway", "ODATA_URL"),
    ("gateway", "IMPORTER_URL"),
    ("gateway", "WEBHOOKS_URL"),
    ("webhooks", "AUTH_URL"),
    ("auth", "IMPORTER_URL"),
]


@pytest.mark.parametrize(("deployment", "key"), UPSTREAMS)
def test_each_upstream_url_names_a_service_on_the_backends_port(
    objects: list[dict[str, Any]], deployment: str, key: str
) -> None:
    url = urlsplit(service_sees(objects, deployment_container(objects, deployment))[key])
    service = find(objects, "Service", str(url.hostname))
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
    (backend,) = deployments_selected(objects, service["spec"]["selector"])
    (container,) = containers(backend)
    assert port_number(container, port["targetPort"]) == url.port


# --- secrets -----------------------------------------------------------------------------------------------------


def secret_references(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        variable["valueFrom"]["secretKeyRef"]
        for item in objects
        for container in containers(item)
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    ]


def test_every_secret_reaches_the_containers_by_secret_key_ref(objects: list[dict[str, Any]]) -> None:
    secret_names = {*load_entrypoint().SECRETS, "ADMIN_PASSWORD"}
    for item in objects:
        for container in containers(item):
            for variable in container.get("env", []):
                if variable["name"] in secret_names:
                    reference = variable["valueFrom"]["secretKeyRef"]
                    assert (reference["name"], reference["key"]) == (SECRET_NAME, variable["name"])
                assert not re.search(r"PASSWORD|SECRET|PEPPER|SIGNING_KEY|ENCRYPTION", variable["name"]) or (
                    "secretKeyRef" in variable.get("valueFrom", {})
                ), f"{identity(item)} sets {variable['name']} without a secretKeyRef"
    config_keys = {key for item in objects if item["kind"] == "ConfigMap" for key in item["data"]}
    assert not config_keys & secret_names
    assert not [item for item in objects if item["kind"] == "Secret"]


def test_every_secret_a_service_needs_is_referenced(objects: list[dict[str, Any]]) -> None:
    referenced = {reference["key"] for reference in secret_references(objects)}
    assert set(load_entrypoint().SECRETS) <= referenced


def test_the_example_secret_holds_every_required_key_only_as_a_placeholder(objects: list[dict[str, Any]]) -> None:
    (secret,) = read_objects(K8S / "secret.example.yaml")
    assert name(secret) == SECRET_NAME
    required = {reference["key"] for reference in secret_references(objects) if not reference.get("optional")}
    assert set(secret["stringData"]) == required
    assert all("change-me" in value for value in secret["stringData"].values())
    entrypoint = load_entrypoint()
    with pytest.raises(entrypoint.SettingError, match="placeholder"):
        entrypoint.check_secrets(secret["stringData"])


def test_the_example_secret_is_in_no_kustomization() -> None:
    for kustomization in K8S.rglob("kustomization.yaml"):
        listed = yaml.safe_load(kustomization.read_text())
        assert "secret.example.yaml" not in str(listed.get("resources", [])) + str(listed.get("patches", []))


def test_only_the_admin_password_is_optional(objects: list[dict[str, Any]]) -> None:
    assert {reference["key"] for reference in secret_references(objects) if reference.get("optional")} == {
        "ADMIN_PASSWORD"
    }


# --- scaling and disruption --------------------------------------------------------------------------------------


def test_the_autoscalers_target_existing_deployments(objects: list[dict[str, Any]]) -> None:
    autoscalers = [item for item in objects if item["kind"] == "HorizontalPodAutoscaler"]
    assert all(item["apiVersion"] == "autoscaling/v2" for item in autoscalers)
    targets = [item["spec"]["scaleTargetRef"] for item in autoscalers]
    for target in targets:
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        find(objects, "Deployment", target["name"])
    assert sorted(target["name"] for target in targets) == sorted(AUTOSCALED)


@pytest.mark.parametrize("deployment", AUTOSCALED)
def test_an_autoscaled_deployment_leaves_its_replica_count_to_the_autoscaler(
    objects: list[dict[str, Any]], deployment: str
) -> None:
    # A count in the Deployment would be put back by every `kubectl apply`, fighting the autoscaler.
    assert "replicas" not in find(objects, "Deployment", deployment)["spec"]
    autoscaler = find(objects, "HorizontalPodAutoscaler", deployment)["spec"]
    assert 2 <= autoscaler["minReplicas"] < autoscaler["maxReplicas"]


@pytest.mark.parametrize("deployment", AUTOSCALED)
def test_an_autoscaled_container_requests_the_cpu_its_target_is_a_share_of(
    objects: list[dict[str, Any]], deployment: str
) -> None:
    (metric,) = find(objects, "HorizontalPodAutoscaler", deployment)["spec"]["metrics"]
    assert (metric["resource"]["name"], metric["resource"]["target"]["type"]) == ("cpu", "Utilization")
    assert deployment_container(objects, deployment)["resources"]["requests"]["cpu"]


def test_every_pod_disruption_budget_selects_existing_pods(objects: list[dict[str, Any]]) -> None:
    budgets = [item for item in objects if item["kind"] == "PodDisruptionBudget"]
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        assert [labels for labels in pod_labels(objects) if selects(selector, labels)], identity(budget)
        # maxUnavailable, never a minAvailable that a one-replica Deployment could never satisfy during a drain.
        assert budget["spec"]["maxUnavailable"] >= 1
    covered = {
        name(item)
        for item in objects
        if item["kind"] == "Deployment"
        for budget in budgets
        if selects(budget["spec"]["selector"]["matchLabels"], item["spec"]["template"]["metadata"]["labels"])
    }
    assert covered == set(DEPLOYMENTS)


def test_every_service_selects_pods_on_a_named_port(objects: list[dict[str, Any]]) -> None:
    for service in (item for item in objects if item["kind"] == "Service"):
        matching = deployments_selected(objects, service["spec"]["selector"])
        assert len(matching) == 1, identity(service)
        (container,) = containers(matching[0])
        for port in service["spec"]["ports"]:
            assert port_number(container, port["targetPort"]) == port["port"]


# --- security and resources --------------------------------------------------------------------------------------


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in objects if item["kind"] in POD_OWNERS]


def test_every_pod_runs_as_the_images_unprivileged_user(objects: list[dict[str, Any]]) -> None:
    user = re.search(r"useradd .*--uid (\d+)", (ROOT / "deploy" / "Dockerfile").read_text())
    assert user is not None
    uid = int(user.group(1))
    for item in workloads(objects):
        spec = pod_spec(item)
        assert spec is not None
        context = spec["securityContext"]
        assert (context["runAsNonRoot"], context["runAsUser"]) == (True, uid), identity(item)
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
        # Neither talks to the Kubernetes API nor may be fed POSTGRES_PORT=tcp://... by a Service named postgres.
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False


def test_every_container_is_locked_down(objects: list[dict[str, Any]]) -> None:
    for item in workloads(objects):
        spec = pod_spec(item)
        assert spec is not None
        for container in containers(item):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, identity(item)
            assert context["readOnlyRootFilesystem"] is True, identity(item)
            assert context["capabilities"] == {"drop": ["ALL"]}, identity(item)
            # A read-only root: the one writable place is a bounded /tmp.
            (mount,) = container["volumeMounts"]
            (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
            assert mount["mountPath"] == "/tmp"  # noqa: S108 - the pod's own emptyDir, not a shared directory
            assert volume["emptyDir"]["sizeLimit"]


def quantity(value: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit, factor in units.items():
        if value.endswith(unit):
            return float(value[: -len(unit)]) * factor
    return float(value)


def test_every_container_has_requests_within_its_limits(objects: list[dict[str, Any]]) -> None:
    for item in workloads(objects):
        for container in containers(item):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request, limit = resources["requests"][resource], resources["limits"][resource]
                assert 0 < quantity(request) <= quantity(limit), f"{identity(item)} {resource}"


def test_the_gateway_memory_fits_the_measured_footprint_with_room(objects: list[dict[str, Any]]) -> None:
    # README's production notes: ~52 MiB per gateway, ~49 MiB per importer API, ~68 MiB per worker.
    for deployment, measured in (("gateway", 52), ("importer", 49), ("importer-worker", 68)):
        resources = deployment_container(objects, deployment)["resources"]
        assert quantity(resources["requests"]["memory"]) >= measured * 2**20
        assert quantity(resources["limits"]["memory"]) >= 2 * measured * 2**20


def test_the_namespace_enforces_the_restricted_pod_security_standard(objects: list[dict[str, Any]]) -> None:
    (namespace,) = [item for item in objects if item["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# --- metrics, ingress, network -----------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_each_pod_announces_its_metrics_port_to_prometheus(objects: list[dict[str, Any]], deployment: str) -> None:
    item = find(objects, "Deployment", deployment)
    container = deployment_container(objects, deployment)
    annotations = item["spec"]["template"]["metadata"]["annotations"]
    port = int(service_sees(objects, container)["METRICS_PORT"])
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    assert port_number(container, "metrics") == port
    assert port != port_number(container, "http")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    if deployment in compose:
        assert compose[deployment]["environment"]["METRICS_PORT"] == str(port)


def test_no_service_exposes_a_metrics_port(objects: list[dict[str, Any]]) -> None:
    for service in (item for item in objects if item["kind"] == "Service"):
        assert [port["name"] for port in service["spec"]["ports"]] == ["http"]


def test_the_ingress_terminates_tls_in_front_of_the_gateway(objects: list[dict[str, Any]]) -> None:
    ingress = find(objects, "Ingress", "gateway")
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}}
    find(objects, "Service", "gateway")
    assert ingress["spec"]["tls"][0]["secretName"]


def test_the_ingress_lets_the_largest_upload_through(objects: list[dict[str, Any]]) -> None:
    annotations = find(objects, "Ingress", "gateway")["metadata"]["annotations"]
    body = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert body.endswith("m")
    gateway = config_class("gateway").from_env(service_sees(objects, deployment_container(objects, "gateway")))
    assert int(body[:-1]) * 2**20 >= gateway.max_body_bytes
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"


def test_every_network_policy_selects_existing_pods(objects: list[dict[str, Any]]) -> None:
    for policy in (item for item in objects if item["kind"] == "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert [labels for labels in pod_labels(objects) if selects(selector, labels)], identity(policy)


def test_only_the_ingress_controller_and_the_dashboard_reach_the_gateways_trusting_port(
    objects: list[dict[str, Any]],
) -> None:
    """The ingress controller forwards clients; the auth service (the panel's dashboard) asks for /readyz and forwards
    nothing. No other pod may send the headers the gateway believes from its trusted proxies."""
    gateway_labels = find(objects, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    policies = [item for item in objects if item["kind"] == "NetworkPolicy"]
    rules = [
        rule
        for policy in policies
        if selects(policy["spec"]["podSelector"]["matchLabels"], gateway_labels)
        for rule in policy["spec"]["ingress"]
        if any(port["port"] == "http" for port in rule["ports"])
    ]
    sources = [source for rule in rules for source in rule["from"]]
    assert sources == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "auth"}}},
    ]


def test_every_pod_of_the_platform_is_isolated_by_a_policy(objects: list[dict[str, Any]]) -> None:
    policies = [item for item in objects if item["kind"] == "NetworkPolicy"]
    for labels in pod_labels(objects):
        assert any(selects(policy["spec"]["podSelector"]["matchLabels"], labels) for policy in policies), labels
