"""The compose stack, really running on a local Docker engine (`bash deploy/compose-test.sh`, or `pytest -m compose`).

The stack starts once for this module with `--scale gateway=2 --scale odata=2 --scale importer-worker=3` and the
demo profile, behind the TLS front door and its local CA, on secrets holding every character `openssl rand -base64`
produces; every call goes through the proxy. Without a Docker engine the module is skipped (CI starts one).
Images: the Debian-built stand-ins (deploy/images/build.sh) unless COMPOSE_TEST_IMAGES=public.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib
import io
import ipaddress
import os
import random
import secrets
import socket
import ssl
import string
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.test_compose import RecordingEnvironment

ROOT = Path(__file__).resolve().parents[2]
BASE64_ALPHABET = string.ascii_letters + string.digits + "+/="
SCALE = {"gateway": 2, "odata": 2, "importer-worker": 3}
RATE_LIMIT_API_KEY = 100
RATE_LIMIT_WINDOW = 60
IMPORT_ROWS = 200_000
# The app image under a name of this checkout's own: another checkout's compose test on the same engine cannot
# swap it, and a rebuild with nothing changed is all cache hits.
APP_IMAGE = f"commerce-platform:test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]


def _engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_edge_subnet() -> ipaddress.IPv4Network:
    """A /24 outside Docker's default address pools (which it gives to networks without a subnet, such as
    `backend`) and clear of every network the engine has now."""
    ids = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True, check=True).stdout.split()
    inspected = subprocess.run(
        ["docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", *ids],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    taken = [ipaddress.ip_network(subnet) for subnet in inspected if ":" not in subnet]
    candidates = list(ipaddress.ip_network("10.29.0.0/16").subnets(new_prefix=24))
    random.SystemRandom().shuffle(candidates)
    return next(subnet for subnet in candidates if not any(subnet.overlaps(other) for other in taken))


def base64_secret() -> str:
    """A secret as `openssl rand -base64 32` makes it, made to hold every character that command can produce."""
    alphabet = list(BASE64_ALPHABET)
    random.SystemRandom().shuffle(alphabet)
    return base64.b64encode(secrets.token_bytes(32)).decode() + "".join(alphabet)


def reads_setting(service: str, key: str) -> bool:
    environment = RecordingEnvironment(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "AMQP_URL": "amqp://u:p@h/",
            "INTERNAL_SIGNING_KEY": "k" * 40,
            "SECRET_PEPPER": "p" * 40,
            "ENCRYPTION_KEY": "e" * 40,
        }
    )
    importlib.import_module(f"services.{service}.config").Config.from_env(environment)
    return key in environment.read


@dataclass
class Stack:
    project: str
    env_file: Path
    https_port: int
    http_port: int
    cafile: Path
    local_images: bool
    app_image: str

    @property
    def base(self) -> str:
        return f"https://localhost:{self.https_port}"

    def compose(self, *args: str, timeout: float = 600) -> str:
        command = ["bash", str(ROOT / "deploy" / "compose.sh")]
        if self.local_images:
            command.append("local-images")
        command += ["--env-file", str(self.env_file), "-p", self.project, "--profile", "demo", *args]
        environment = {**os.environ, "APP_IMAGE": self.app_image}
        result = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert result.returncode == 0, f"compose {args} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def containers(self, service: str) -> list[str]:
        result = subprocess.run(
            [
                "docker",
                "ps",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
                "--format",
                "{{.Names}}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return sorted(result.stdout.split())

    def in_container(self, container: str, *command: str, timeout: float = 120) -> str:
        result = subprocess.run(
            ["docker", "exec", container, "python", "/app/deploy/container/entrypoint.py", *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"{command} in {container} failed: {result.stderr}"
        return result.stdout.strip()

    def sql(self, query: str) -> str:
        postgres = self.containers("postgres")[0]
        result = subprocess.run(
            ["docker", "exec", postgres, "psql", "-U", "platform", "-d", "commerce", "-tAc", query],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def client(self, **kwargs: Any) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.cafile))
        return httpx.Client(base_url=self.base, verify=context, timeout=60, **kwargs)

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with self.client() as client:
                    if client.get("/readyz").status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError("the stack did not answer /readyz through the proxy")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not _engine_answers():
        pytest.skip("no Docker engine answers (CI installs and starts one: .ci/run)")
    local_images = os.environ.get("COMPOSE_TEST_IMAGES", "local") != "public"
    directory = tmp_path_factory.mktemp("compose")
    env_file = directory / "compose.env"
    https_port, http_port = _free_port(), _free_port()
    values = {
        "POSTGRES_PASSWORD": base64_secret(),
        "RABBITMQ_PASSWORD": base64_secret(),
        "REDIS_PASSWORD": base64_secret(),
        "INTERNAL_SIGNING_KEY": base64_secret(),
        "SECRET_PEPPER": base64_secret(),
        "ENCRYPTION_KEY": base64_secret(),
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": "correct horse battery staple",
        "HTTPS_PORT": str(https_port),
        "HTTP_PORT": str(http_port),
        "PUBLIC_BASE_URL": f"https://localhost:{https_port}",
        "EDGE_SUBNET": str(free_edge_subnet()),
        "RATE_LIMIT_API_KEY": str(RATE_LIMIT_API_KEY),
        "RATE_LIMIT_WINDOW": str(RATE_LIMIT_WINDOW),
        "DEMO_PRODUCTS": "40",
    }
    env_file.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    stack = Stack(
        project=f"composetest{secrets.token_hex(3)}",
        env_file=env_file,
        https_port=https_port,
        http_port=http_port,
        cafile=directory / "caddy-root.crt",
        local_images=local_images,
        app_image=APP_IMAGE,
    )
    started = time.monotonic()
    if local_images:
        subprocess.run(["bash", str(ROOT / "deploy" / "images" / "build.sh")], check=True, timeout=1800)
    # Every app service runs the one image: building it for one service builds it for all (compose would build it
    # once per service).
    stack.compose("build", "gateway", timeout=1800)
    built = time.monotonic()
    try:
        scale = [f"--scale={service}={count}" for service, count in SCALE.items()]
        stack.compose("up", "-d", "--no-build", *scale)
        root = subprocess.run(
            ["docker", "exec", stack.containers("proxy")[0], "cat", "/data/caddy/pki/authorities/local/root.crt"],
            capture_output=True,
            check=True,
        )
        stack.cafile.write_bytes(root.stdout)
        stack.wait_ready()
        up = time.monotonic()
        print(f"\ncompose stack: build {built - started:.1f} s, start {up - built:.1f} s")
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans", "--timeout", "3")


@dataclass(frozen=True)
class AdminCredentials:
    api_key: str
    api_token: str  # the admin's API token, for Basic calls


@pytest.fixture(scope="module")
def admin_credentials(stack: Stack) -> AdminCredentials:
    """An API key and the API token of the first admin, made by the auth CLI, both at once."""
    auth = stack.containers("auth")[0]
    cli = ("python", "-m", "services.auth.cli")
    with ThreadPoolExecutor(max_workers=2) as pool:
        key = pool.submit(stack.in_container, auth, *cli, "create-key", "--username", "admin", "--name", "compose")
        token = pool.submit(stack.in_container, auth, *cli, "enable-api-token", "--username", "admin")
        return AdminCredentials(api_key=key.result(), api_token=token.result())


@pytest.fixture(scope="module")
def admin_key(admin_credentials: AdminCredentials) -> str:
    return admin_credentials.api_key


def new_key(stack: Stack, admin_key: str, name: str) -> dict[str, Any]:
    with stack.client() as client:
        answer = client.post("/api/keys", headers={"X-API-Key": admin_key}, json={"name": name})
    assert answer.status_code == 201, answer.text
    return answer.json()


def products_csv(rows: int, prefix: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["sku", "name", "price", "stock", "description", "active"])
    for n in range(rows):
        writer.writerow([f"{prefix}-{n:07d}", f"Product {n}", f"{n % 500 + 1}.25", n % 100, "", "true"])
    return out.getvalue().encode()


def start_import(stack: Stack, admin_key: str, rows: int, prefix: str) -> str:
    with stack.client() as client:
        answer = client.post(
            "/api/import",
            headers={"X-API-Key": admin_key, "Prefer": "respond-async"},
            data={"entity": "products", "mapperId": "products-default"},
            files={"file": (f"{prefix}.csv", products_csv(rows, prefix), "text/csv")},
        )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def import_status(stack: Stack, admin_key: str, job_id: str) -> dict[str, Any]:
    with stack.client() as client:
        answer = client.get(f"/api/imports/{job_id}", headers={"X-API-Key": admin_key})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_for_import(stack: Stack, admin_key: str, job_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = import_status(stack, admin_key, job_id)
        if status["status"] in ("completed", "failed", "cancelled"):
            return status
        # Once a second: the admin key's own rate limit (RATE_LIMIT_API_KEY per minute) refills faster than that.
        time.sleep(1)
    raise AssertionError(f"import {job_id} did not end within {seconds} s: {status}")


def proxy_connections(stack: Stack, gateway: str) -> int:
    """Established connections into the gateway's port 8080 (from the proxy: nothing else reaches it)."""
    table = stack.in_container(gateway, "python", "-c", "print(open('/proc/net/tcp').read())")
    established = [line.split() for line in table.splitlines()[1:] if line.split()[3:4] == ["01"]]
    return sum(1 for fields in established if fields[1].endswith(":1F90"))


def test_only_the_proxy_publishes_ports(stack: Stack) -> None:
    result = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            f"label=com.docker.compose.project={stack.project}",
            "--format",
            '{{.Label "com.docker.compose.service"}} {{.Ports}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    published = {line.split()[0] for line in result.stdout.splitlines() if "->" in line}
    assert published == {"proxy"}


def test_plain_http_is_redirected_to_https(stack: Stack) -> None:
    answer = httpx.get(f"http://localhost:{stack.http_port}/odata/products", follow_redirects=False)
    assert answer.status_code in (301, 308)
    assert answer.headers["location"].startswith("https://localhost")


def test_an_api_key_reads_odata_through_the_tls_front_door(stack: Stack, admin_key: str) -> None:
    with stack.client() as client:
        answer = client.get(
            "/odata/products", params={"$top": "2", "$select": "id,name,price"}, headers={"X-API-Key": admin_key}
        )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["value"]) == 2
    assert answer.json()["@odata.context"].startswith(stack.base)


def test_the_query_api_answers_through_the_tls_front_door(stack: Stack, admin_key: str) -> None:
    with stack.client() as client:
        answer = client.post(
            "/api/query", headers={"X-API-Key": admin_key}, json={"query": "products { id, name, price, stock }"}
        )
    assert answer.status_code == 200, answer.text
    assert {"id", "name", "price", "stock"} <= set(answer.json()["products"][0])


def test_a_multipart_import_through_the_tls_front_door_writes_its_rows(stack: Stack, admin_key: str) -> None:
    job_id = start_import(stack, admin_key, 25, "SMALL")
    status = wait_for_import(stack, admin_key, job_id, 60)
    assert (status["status"], status["imported"], status["failed"]) == ("completed", 25, 0)


def test_a_basic_api_token_call_through_the_tls_front_door(stack: Stack, admin_credentials: AdminCredentials) -> None:
    with stack.client() as client:
        answer = client.get("/odata/products", params={"$top": "1"}, auth=("admin", admin_credentials.api_token))
    assert answer.status_code == 200, answer.text


def test_the_proxy_spreads_requests_over_every_gateway_replica(stack: Stack, admin_key: str) -> None:
    with stack.client() as client:
        for _ in range(20):
            assert client.get("/odata/products", params={"$top": "1"}, headers={"X-API-Key": admin_key}).is_success
        gateways = stack.containers("gateway")
        assert len(gateways) == SCALE["gateway"]
        assert all(proxy_connections(stack, gateway) > 0 for gateway in gateways)


POLLER = """
import sys, time, urllib.error, urllib.request
request = urllib.request.Request(
    "http://127.0.0.1:8080/odata/products?$top=1", headers={"X-API-Key": sys.argv[1]}
)
def status():
    try:
        return urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code
assert status() == 200, "the key works before it is revoked"
print("ready", flush=True)
deadline = time.time() + 30
while time.time() < deadline:
    if status() == 401:
        print(time.time(), flush=True)
        break
    time.sleep(0.05)
"""


def test_a_revoked_key_is_refused_by_every_gateway_replica_within_a_second(stack: Stack, admin_key: str) -> None:
    key = new_key(stack, admin_key, "to be revoked")
    pollers = [
        subprocess.Popen(
            ["docker", "exec", gateway, "python", "-c", POLLER, key["key"]], stdout=subprocess.PIPE, text=True
        )
        for gateway in stack.containers("gateway")
    ]
    for poller in pollers:
        assert poller.stdout is not None
        assert poller.stdout.readline().strip() == "ready"
    with stack.client() as client:
        revoked_at = time.time()
        answer = client.post(f"/api/keys/{key['id']}/revoke", headers={"X-API-Key": admin_key})
    assert answer.status_code == 200, answer.text
    refused_after = []
    for poller in pollers:
        out, _ = poller.communicate(timeout=60)
        refused_after.append(float(out.strip()) - revoked_at)
    assert all(seconds < 1.0 for seconds in refused_after), refused_after


def gateway_metrics(stack: Stack, gateways: list[str], *samples: str) -> dict[str, tuple[float, ...]]:
    """Samples (`name{labels}`) from each gateway replica's Prometheus metrics (0 for one it has none of yet), read
    from all replicas at once."""

    def read(gateway: str) -> tuple[float, ...]:
        text = stack.in_container(
            gateway,
            "python",
            "-c",
            "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9080/metrics').read().decode())",
        )
        values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        return tuple(float(values.get(sample, 0.0)) for sample in samples)

    with ThreadPoolExecutor(max_workers=len(gateways)) as pool:
        return dict(zip(gateways, pool.map(read, gateways), strict=True))


@pytest.mark.skipif(not reads_setting("gateway", "REDIS_URL"), reason="the gateway does not count limits in Redis")
def test_a_rate_limit_is_shared_by_the_gateway_replicas(stack: Stack, admin_key: str) -> None:
    """GCRA: a burst of the limit, then one more request every window/limit seconds. Counted in Redis, the replicas
    together refuse once the burst and what refilled meanwhile are spent; counted apart, each would allow its own
    burst, about twice as many. Decisions a replica took in memory while Redis did not answer in time are
    reported in ratelimit_backend_fallback_total and allowed for."""
    gateways = stack.containers("gateway")
    accepted = 'gateway_auth_outcomes_total{outcome="accepted"}'
    fallbacks = "ratelimit_backend_fallback_total"
    key = new_key(stack, admin_key, "rate limited")
    before = gateway_metrics(stack, gateways, accepted, fallbacks)
    statuses = []
    with stack.client() as client:
        started = time.monotonic()
        for _ in range(2 * RATE_LIMIT_API_KEY):
            answer = client.get("/odata/products", params={"$top": "1"}, headers={"X-API-Key": key["key"]})
            statuses.append(answer.status_code)
            if answer.status_code != 200:
                break
        elapsed = time.monotonic() - started
    after = gateway_metrics(stack, gateways, accepted, fallbacks)
    assert all(after[g][0] > before[g][0] for g in gateways), "every gateway replica took part"
    from_memory = sum(after[g][1] - before[g][1] for g in gateways)
    assert from_memory <= RATE_LIMIT_API_KEY // 10, f"{from_memory} decisions without Redis"
    refilled = int(elapsed * RATE_LIMIT_API_KEY / RATE_LIMIT_WINDOW)
    assert statuses[-1] == 429, f"{len(statuses)} requests in {elapsed:.1f} s were all allowed"
    assert answer.headers["Retry-After"].isdigit()
    allowed = statuses.count(200)
    assert allowed == len(statuses) - 1
    assert RATE_LIMIT_API_KEY <= allowed <= RATE_LIMIT_API_KEY + refilled + from_memory, (allowed, elapsed)


def test_an_import_survives_a_killed_worker(stack: Stack, admin_key: str) -> None:
    job_id = start_import(stack, admin_key, IMPORT_ROWS, "KILL")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = import_status(stack, admin_key, job_id)
        if status["status"] == "running" and 0 < (status["rowsDone"] or 0) < IMPORT_ROWS // 2:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the import never ran: {status}")
    busy = busiest(stack, stack.containers("importer-worker"))
    subprocess.run(["docker", "kill", busy], check=True, capture_output=True)
    status = wait_for_import(stack, admin_key, job_id, 300)
    assert (status["status"], status["failed"]) == ("completed", 0), status
    assert int(stack.sql("SELECT count(*) FROM catalog.products WHERE sku LIKE 'KILL-%'")) == IMPORT_ROWS
    subprocess.run(["docker", "start", busy], check=True, capture_output=True)


def busiest(stack: Stack, containers: list[str]) -> str:
    """The container that used the most CPU over half a second: the worker holding the running job."""

    def cpu_ticks(container: str) -> int:
        fields = stack.in_container(container, "python", "-c", "print(open('/proc/1/stat').read())").split()
        return int(fields[13]) + int(fields[14])

    before = {container: cpu_ticks(container) for container in containers}
    time.sleep(0.5)
    return max(containers, key=lambda container: cpu_ticks(container) - before[container])


def test_a_job_queued_while_rabbitmq_is_recreated_still_runs(stack: Stack, admin_key: str) -> None:
    workers = stack.containers("importer-worker")
    subprocess.run(["docker", "stop", *workers], check=True, capture_output=True)
    job_id = start_import(stack, admin_key, 30, "QUEUED")
    assert import_status(stack, admin_key, job_id)["status"] == "queued"
    stack.compose("up", "-d", "--no-build", "--force-recreate", "--no-deps", "rabbitmq")
    subprocess.run(["docker", "start", *workers], check=True, capture_output=True)
    status = wait_for_import(stack, admin_key, job_id, 180)
    assert (status["status"], status["imported"]) == ("completed", 30), status


def test_a_gateway_replica_added_later_receives_requests(stack: Stack, admin_key: str) -> None:
    stack.compose(
        "up", "-d", "--no-build", "--no-recreate", "--no-deps", f"--scale=gateway={SCALE['gateway'] + 1}", "gateway"
    )
    gateways = stack.containers("gateway")
    assert len(gateways) == 3
    stack.wait_ready()
    deadline = time.monotonic() + 60
    with stack.client() as client:
        while time.monotonic() < deadline:
            threads = [
                threading.Thread(
                    target=client.get,
                    args=("/odata/products",),
                    kwargs={"params": {"$top": "1"}, "headers": {"X-API-Key": admin_key}},
                )
                for _ in range(12)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if all(proxy_connections(stack, gateway) > 0 for gateway in gateways):
                return
            time.sleep(1)
    raise AssertionError("the new gateway replica never received a request from the proxy")
