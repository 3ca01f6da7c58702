"""The four services as their operator runs them (`python -m services.<name>`), for attacks from the outside.

Real processes rather than in-process test servers, because some of what is attacked lives outside the
application: aiohttp's HTTP parser and its limits, the server that answers what it cannot parse, the metrics
listener, and the log lines each process writes to stdout (kept in one file per service).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("auth", "odata", "importer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    name: str
    port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


@dataclass
class Stack:
    services: dict[str, Service] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Service:
        return self.services[name]

    @property
    def gateway(self) -> str:
        return self.services["gateway"].url

    def logs(self) -> str:
        """Everything every service has logged so far."""
        return "\n".join(service.log.read_text(errors="replace") for service in self.services.values())


def _wait_ready(service: Service, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"{service.name} exited: {service.log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{service.url}/readyz", timeout=1) as response:  # noqa: S310 (http only)
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{service.name} did not become ready: {service.log.read_text(errors='replace')[-3000:]}")


def _start(name: str, env: Mapping[str, str], workdir: Path) -> Service:
    port, metrics_port = free_port(), free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env={**env, "LISTEN_PORT": str(port), "METRICS_PORT": str(metrics_port)},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Service(name, port, metrics_port, process, log)


@contextlib.contextmanager
def running_stack(base_env: Mapping[str, str], workdir: Path) -> Iterator[Stack]:
    """auth, odata, importer and the gateway in front of them, on free ports, logging at DEBUG."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        **base_env,
        "LOG_LEVEL": "DEBUG",
        "STARTUP_TIMEOUT": "20",
        "IMPORT_WAIT_SECONDS": "5",
    }
    stack = Stack()
    try:
        for name in BACKENDS:
            stack.services[name] = _start(name, env, workdir)
        for name in BACKENDS:
            _wait_ready(stack[name])
        gateway_env = {
            **env,
            "AUTH_URL": stack["auth"].url,
            "ODATA_URL": stack["odata"].url,
            "IMPORTER_URL": stack["importer"].url,
            "CORS_ORIGINS": "https://shop.example",
            # Attacks come in quick succession from one address; the limits are not what is tested here.
            "RATE_LIMIT_ANONYMOUS": "0",
        }
        stack.services["gateway"] = _start("gateway", gateway_env, workdir)
        _wait_ready(stack["gateway"])
        yield stack
    finally:
        for service in reversed(list(stack.services.values())):
            if service.process.poll() is None:
                service.process.terminate()
        for service in stack.services.values():
            try:
                service.process.wait(15)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(5)


@dataclass(frozen=True)
class RawAnswer:
    status: int
    head: str
    body: bytes


def raw_request(port: int, request: bytes, timeout: float = 10) -> RawAnswer:
    """Send bytes no HTTP client library would send (oversized lines, non-ASCII headers) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            received += chunk
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0:
                head = received[:head_end].decode("latin-1")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in head.split("\r\n")
                        if line.lower().startswith("content-length:")
                    ),
                    None,
                )
                if length is not None and len(received) >= head_end + 4 + length:
                    break
    head_end = received.find(b"\r\n\r\n")
    assert head_end > 0, f"no HTTP answer: {received[:200]!r}"
    head = received[:head_end].decode("latin-1")
    return RawAnswer(int(head.split(" ", 2)[1]), head, received[head_end + 4 :])
