"""The benchmarks' shared harness: a database and bus prefix of their own, the real services as processes, the
operator CLIs, and a bounded load generator (fixed concurrency, fixed duration or request count) that measures
requests per second, p50 and p99.

Benchmarks are not tests: each bench/bench_*.py is a script that prints a table. Everything here talks only to
127.0.0.1 (the local PostgreSQL and RabbitMQ, and the services it starts itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.bus import Topology, delete_topology  # noqa: E402

POSTGRES_SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = secrets.token_urlsafe(24)  # nobody signs in with it
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
CLI_TIMEOUT_SECONDS = 600.0
MAX_LOAD_SECONDS = 600.0
MAX_LOAD_REQUESTS = 10_000_000
MAX_CONCURRENCY = 1024
LOOPBACK = "127.0.0.1"


class BenchError(Exception):
    """The benchmark cannot go on (a service did not start, a CLI failed, a request was refused)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def require_loopback(url: str) -> None:
    """The load generator and the harness only ever talk to this machine."""
    if urlsplit(url).hostname != LOOPBACK:
        raise BenchError(f"benchmarks only target {LOOPBACK}, not {url}")


def machine_note() -> str:
    one, five, fifteen = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} CPU cores shared by the load generator (one Python process), the services and "
        f"PostgreSQL; load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"
    )


def load_average() -> str:
    return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())


# ---------------------------------------------------------------------------------------------------------------
# Tables


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(header) for header in headers]] + [[str(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first, *rest = row
        return "  ".join(
            [first.ljust(widths[0]), *(value.rjust(width) for value, width in zip(rest, widths[1:], strict=True))]
        )

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def milliseconds(value: float) -> str:
    """Two decimals, or four below a tenth of a millisecond (in-process calls)."""
    return f"{value:.4f}" if value < 0.1 else f"{value:.2f}"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline > 0 else "n/a"


# ---------------------------------------------------------------------------------------------------------------
# Load generation


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class LoadResult:
    label: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of the answers with the expected status
    failures: int = 0
    first_failure: str | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def p(self, fraction: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(sorted(self.latencies), fraction) * 1000

    def merge(self, other: LoadResult) -> None:
        self.seconds += other.seconds
        self.latencies.extend(other.latencies)
        self.failures += other.failures
        self.first_failure = self.first_failure or other.first_failure

    def row(self, baseline: LoadResult | None = None) -> list[object]:
        cells: list[object] = [
            self.label,
            self.requests,
            f"{self.per_second:,.0f}",
            milliseconds(self.p(0.50)),
            milliseconds(self.p(0.99)),
        ]
        if baseline is not None:
            cells.append(ratio(self.per_second, baseline.per_second))
        cells.append(self.failures)
        return cells


@dataclass(frozen=True)
class Call:
    """One HTTP request the load generator repeats."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    expect_status: int = 200


async def run_load(
    label: str,
    call: Call,
    *,
    concurrency: int,
    seconds: float | None = None,
    requests: int | None = None,
    session: aiohttp.ClientSession | None = None,
) -> LoadResult:
    """`concurrency` workers repeat `call` back to back until `seconds` pass or `requests` are sent (whichever is
    given; both bounded). Latency is measured from sending to the last byte of the answer."""
    require_loopback(call.url)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise BenchError(f"concurrency must be 1..{MAX_CONCURRENCY}")
    if (seconds is None) == (requests is None):
        raise BenchError("give either seconds or requests")
    if seconds is not None and not 0 < seconds <= MAX_LOAD_SECONDS:
        raise BenchError(f"seconds must be in (0, {MAX_LOAD_SECONDS}]")
    if requests is not None and not 1 <= requests <= MAX_LOAD_REQUESTS:
        raise BenchError(f"requests must be 1..{MAX_LOAD_REQUESTS}")
    result = LoadResult(label)
    budget = requests if requests is not None else MAX_LOAD_REQUESTS
    own_session = session is None
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency, force_close=False))

    async def worker(deadline: float) -> None:
        nonlocal budget
        while budget > 0 and time.perf_counter() < deadline:
            budget -= 1
            started = time.perf_counter()
            try:
                async with session.request(call.method, call.url, headers=call.headers, json=call.json) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                status, body = 0, type(error).__name__.encode()
            elapsed = time.perf_counter() - started
            if status == call.expect_status:
                result.latencies.append(elapsed)
            else:
                result.failures += 1
                if result.first_failure is None:
                    result.first_failure = f"{status} {body[:300]!r}"

    try:
        started = time.perf_counter()
        deadline = started + (seconds if seconds is not None else MAX_LOAD_SECONDS)
        await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    finally:
        if own_session:
            await session.close()
    return result


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    expect: int = 200,
) -> Any:
    """One request whose answer must have status `expect`; returns the JSON body (or None)."""
    require_loopback(url)
    async with session.request(method, url, headers=headers, json=json) as response:
        body = await response.read()
        if response.status != expect:
            raise BenchError(
                f"{method} {urlsplit(url).path} answered {response.status}, expected {expect}: {body[:300]!r}"
            )
        return await response.json(content_type=None) if body else None


# ---------------------------------------------------------------------------------------------------------------
# The platform under test


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat: CPU per request is steadier than requests per second on
    a machine that other work shares."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _admin_sql(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (Linux /proc)."""
        return process_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Platform:
    """A bench's own database (bench_<random>) and bus prefix, the services it starts as real processes, and the
    operator CLIs. Use as `async with Platform() as platform:`; leaving stops every process with SIGTERM, drops
    the database and deletes the bus prefix's exchanges and queues."""

    def __init__(self, log_level: str = "INFO") -> None:
        suffix = secrets.token_hex(4)
        self.database_name = f"bench_{suffix}"
        self.database_url = urlunsplit(urlsplit(POSTGRES_SERVER_URL)._replace(path=f"/{self.database_name}"))
        self.bus_prefix = f"bench-{suffix}"
        self.signing_key = secrets.token_urlsafe(32)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.database_name}-logs-"))
        self.env: dict[str, str] = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "METRICS_PORT": "0",
            "DATABASE_URL": self.database_url,
            "AMQP_URL": AMQP_URL,
            "BUS_PREFIX": self.bus_prefix,
            "INTERNAL_SIGNING_KEY": self.signing_key,
            "SECRET_PEPPER": secrets.token_urlsafe(32),
            "ENCRYPTION_KEY": secrets.token_urlsafe(32),
            "LISTEN_HOST": LOOPBACK,
            "LOG_LEVEL": log_level,
            "SHUTDOWN_TIMEOUT": "5",
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
        self.services: list[Service] = []

    @property
    def signing_key_bytes(self) -> bytes:
        return self.signing_key.encode()

    async def __aenter__(self) -> Platform:
        await _admin_sql(f'CREATE DATABASE "{self.database_name}"')
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.stop_all()
        if exc_type is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"the services' logs are kept in {self.workdir}", file=sys.stderr)
        with contextlib.suppress(Exception):
            await _admin_sql(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            connection = await aio_pika.connect(AMQP_URL)
            async with connection:
                await delete_topology(await connection.channel(), Topology(self.bus_prefix))

    def cli(self, module: str, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
        """Run `python -m module args` with the platform's settings; its stdout, stripped."""
        result = subprocess.run(
            [sys.executable, "-m", module, *args],
            env={**self.env, **(extra_env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"python -m {module} {args[0] if args else ''} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout.strip()

    def start(
        self,
        name: str,
        command: Sequence[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        label: str | None = None,
        port: int | None = None,
    ) -> Service:
        """Start `python -m services.<name>` (or `command`) on `port` or a free one; wait_ready before using it."""
        port = port or free_port()
        label = label or name
        log_path = self.workdir / f"{label}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(command) if command is not None else [sys.executable, "-m", f"services.{name}"],
                env={**self.env, **(extra_env or {}), "LISTEN_PORT": str(port)},
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        service = Service(label, f"http://{LOOPBACK}:{port}", process, log_path)
        self.services.append(service)
        return service

    async def wait_ready(self, *services: Service, path: str = "/readyz") -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        async with aiohttp.ClientSession() as session:
            for service in services:
                while True:
                    if service.process.poll() is not None:
                        raise BenchError(
                            f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}"
                        )
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with session.get(service.url + path, timeout=aiohttp.ClientTimeout(total=3)) as answer:
                            if answer.status == 200:
                                break
                    if time.monotonic() > deadline:
                        raise BenchError(f"{service.name} was not ready in time:\n{service.log_tail()}")
                    await asyncio.sleep(0.2)

    def stop(self, service: Service) -> None:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
            try:
                service.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        if service in self.services:
            self.services.remove(service)

    def stop_all(self) -> None:
        for service in reversed(list(self.services)):
            self.stop(service)

    # Operators' first steps, through the real CLIs.

    def load_demo_data(self, products: int) -> str:
        return self.cli("services.odata.demo", "--products", str(products))

    def create_admin_key(self) -> str:
        """An admin user (created once) and a fresh API key of theirs."""
        self.cli("services.auth.cli", "create-admin", "--username", ADMIN_USERNAME, "--if-missing")
        return self.cli("services.auth.cli", "create-key", "--username", ADMIN_USERNAME, "--name", "bench key")

    def enable_admin_api_token(self) -> str:
        return self.cli("services.auth.cli", "enable-api-token", "--username", ADMIN_USERNAME)

    def gateway_env(self, auth: Service, odata: Service | None, **settings: str) -> dict[str, str]:
        """The gateway's settings for a bench: rate limits off (they would cap the measured rate)."""
        unused = f"http://{LOOPBACK}:{free_port()}"
        return {
            "AUTH_URL": auth.url,
            "ODATA_URL": odata.url if odata is not None else unused,
            "IMPORTER_URL": unused,
            "RATE_LIMIT_API_KEY": "0",
            "RATE_LIMIT_BASIC": "0",
            "RATE_LIMIT_BEARER": "0",
            "RATE_LIMIT_ANONYMOUS": "0",
            **settings,
        }
