"""Private PostgreSQL and RabbitMQ servers that a test may stop and start, and the importer as a real process.

The machine's shared servers (127.0.0.1:5432 and :5672) serve other test runs at the same time, so a test that
restarts a server gets its own: a PostgreSQL cluster made by initdb in a temporary directory, or a second RabbitMQ
node with its own name, ports and data directory. Both keep their data across a restart, as a real one does.
PostgreSQL refuses to run as root and the broker's CLI must share the node's Erlang cookie, so under root both run
as their packages' system users (postgres, rabbitmq).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class ServerUnavailable(Exception):
    """The server software is not installed here, so the test cannot run."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _run_as(user: str) -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise ServerUnavailable(f"running as root, but there is no {user!r} system user to run the server") from None
    return ["runuser", "-u", user, "--"]


def _hand_over(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class PrivatePostgres:
    """A PostgreSQL cluster of its own; `restart` stops it (immediate: like a crash) and starts it again."""

    def __init__(self, workdir: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = found[-1] if found else shutil.which("initdb")
        if initdb is None:
            raise ServerUnavailable("initdb was not found (PostgreSQL server binaries are not installed)")
        self.bindir = Path(initdb).parent
        self.prefix = _run_as("postgres")
        self.workdir = workdir
        self.data = workdir / "data"
        self.log = workdir / "postgresql.log"
        self.port = free_port()
        _hand_over(workdir, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        command = [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {args[-1]} failed: {result.stderr.strip()}\n{_tail(self.log)}")

    def create(self) -> None:
        command = [*self.prefix, str(self.bindir / "initdb"), "-D", str(self.data)]
        command += ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1"
        self._pg_ctl("-l", str(self.log), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class PrivateRabbit:
    """A second RabbitMQ node (own name, ports and data); `stop` and `start` keep its durable queues."""

    def __init__(self, workdir: Path) -> None:
        server, ctl = shutil.which("rabbitmq-server"), shutil.which("rabbitmqctl")
        if server is None or ctl is None:
            raise ServerUnavailable("rabbitmq-server / rabbitmqctl were not found (RabbitMQ is not installed)")
        self.server, self.ctl = server, ctl
        self.prefix = _run_as("rabbitmq")
        self.workdir = workdir
        self.node = f"rabbit-test-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.log = workdir / "server.out"
        # Not the machine's /etc/rabbitmq files: they name the shared node and its port.
        (workdir / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")
        (workdir / "rabbitmq-env.conf").write_text("")
        (workdir / "enabled_plugins").write_text("[].\n")
        for path in (workdir, *workdir.iterdir()):
            _hand_over(path, "rabbitmq")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> list[str]:
        settings = {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.workdir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        return [f"{name}={value}" for name, value in settings.items()]

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*self.prefix, "env", *self._env(), self.server],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"the private RabbitMQ node exited at start-up:\n{_tail(self.log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private RabbitMQ node did not open its port:\n{_tail(self.log)}")
            time.sleep(0.2)

    def _ctl(self, *args: str) -> None:
        result = subprocess.run(
            [*self.prefix, self.ctl, "-n", self.node, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {result.stderr.strip()}")

    def stop_app(self) -> None:
        """Stop the broker inside the running node (clients are disconnected; queues stay on disk)."""
        self._ctl("stop_app")

    def start_app(self) -> None:
        self._ctl("start_app")

    def stop(self) -> None:
        """A graceful stop of the whole node (clients see their connections closed), then wait for its exit."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._ctl("stop")  # when it fails, the kill below ends the node
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class ImporterProcess:
    """`python -m services.importer` (API and worker) as a child process, on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.env = {"PATH": os.environ.get("PATH", ""), **env, "LISTEN_PORT": str(self.port)}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.importer"], env=self.env, cwd=ROOT, stdout=out, stderr=out
            )

    def output(self) -> str:
        """The service's own log lines (access lines left out: the tests poll)."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join([line for line in lines if '"logger": "access"' not in line][-60:])

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return int(self.process.returncode)
