"""Start the whole platform on this machine: check PostgreSQL and RabbitMQ, create the database, load demo data,
start the four services with prefixed logs, print how to call them; Ctrl-C stops everything cleanly.

Settings (environment, all optional):
  DATABASE_URL   postgresql://postgres@127.0.0.1:5432/commerce  (the database is created when missing)
  AMQP_URL       amqp://guest:guest@127.0.0.1:5672/
  BUS_PREFIX     platform
  GATEWAY_PORT   8080; AUTH_PORT 8081; ODATA_PORT 8082; IMPORTER_PORT 8083
  DEMO_PRODUCTS  300
  STATE_DIR      var/  (generated secrets and the admin password are kept here between runs)
  SHUTDOWN_TIMEOUT  10 (seconds the services get to stop; a service still running 15 s later is killed)

--reset drops and recreates the database, e.g. when another checkout (other secrets) made it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aio_pika  # noqa: E402
import asyncpg  # noqa: E402

from services.auth.passwords import verify_password  # noqa: E402

SERVICES = ("auth", "odata", "importer", "gateway")
COLOURS = {"auth": "35", "odata": "36", "importer": "33", "gateway": "32", "launcher": "1"}
READY_TIMEOUT_SECONDS = 60
ADMIN = "admin"
# What the database's contents are encrypted or hashed with; recorded (as a keyed hash) on the database.
DATABASE_SECRETS = ("ENCRYPTION_KEY", "SECRET_PEPPER")
DATABASE_MARK = "platform launcher, secrets "
# Beyond SHUTDOWN_TIMEOUT: a service's cleanup (its worker, pools, broker connections) is bounded step by step.
STOP_GRACE_SECONDS = 15.0
DEFAULT_SHUTDOWN_TIMEOUT = 10.0


def say(text: str, source: str = "launcher") -> None:
    colour = COLOURS.get(source, "0") if sys.stdout.isatty() else ""
    label = f"\033[{colour}m[{source:>8}]\033[0m" if colour else f"[{source:>8}]"
    for line in text.splitlines() or [""]:
        print(f"{label} {line}", flush=True)


def fail(message: str) -> None:
    say(f"ERROR: {message}")
    raise SystemExit(1)


def tcp_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def wait_for_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if tcp_open(host, port):
            return True
        time.sleep(0.5)
    return False


def ensure_postgresql(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    if tcp_open(host, port):
        return
    if host in ("127.0.0.1", "localhost") and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
        if versions:
            say(f"PostgreSQL is not running; starting cluster {versions[-1]}/main")
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
            if wait_for_port(host, port, 30):
                return
    fail(
        f"PostgreSQL is not reachable at {host}:{port}. Start it (Debian: "
        "pg_ctlcluster --skip-systemctl-redirect <version> main start) or set DATABASE_URL."
    )


def ensure_rabbitmq(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if tcp_open(host, port):
        return
    if host in ("127.0.0.1", "localhost") and shutil.which("rabbitmq-server"):
        say("RabbitMQ is not running; starting it (rabbitmq-server -detached)")
        subprocess.run(["rabbitmq-server", "-detached"], check=False)
        if wait_for_port(host, port, 90):
            return
    fail(f"RabbitMQ is not reachable at {host}:{port}. Start it (rabbitmq-server -detached) or set AMQP_URL.")


async def check_broker(url: str) -> None:
    try:
        connection = await aio_pika.connect(url, timeout=10)
    except Exception as error:
        fail(f"RabbitMQ at {urlsplit(url).hostname} refused the connection: {type(error).__name__}: {error}")
    await connection.close()


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        fail(f"database name {name!r} must be letters, digits and underscores")
    return name


async def ensure_database(url: str, reset: bool) -> None:
    parts = urlsplit(url)
    name = database_name(url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        conn = await asyncpg.connect(maintenance, timeout=10)
    except Exception as error:
        fail(f"cannot connect to PostgreSQL: {type(error).__name__}: {error}")
    try:
        if reset:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            say(f"dropped database {name} (--reset)")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")
    finally:
        await conn.close()


def secrets_fingerprint(env: dict[str, str]) -> str:
    """A keyed hash of the secrets the database's contents depend on: it tells them apart and reveals nothing."""
    material = "\n".join(env[key] for key in DATABASE_SECRETS).encode()
    return hmac.new(material, b"platform launcher: database secrets v1", hashlib.sha256).hexdigest()[:32]


def other_secrets(url: str) -> str:
    name = database_name(url)
    own = urlunsplit(urlsplit(url)._replace(path=f"/{name}_{re.sub(r'[^a-z0-9]+', '_', ROOT.name.lower())}"))
    return (
        f"database {name} was made with other secrets (another checkout or STATE_DIR), so its keys and admin "
        f"password are not this checkout's: start with --reset to recreate it (its data is lost), or use a database "
        f"of its own: DATABASE_URL={own}"
    )


async def check_database_secrets(url: str, fingerprint: str, admin_password: str) -> None:
    """Refuse a database made with other secrets (services would fail to decrypt its keys, and the admin's password
    would not be the printed one); mark a new one, or one whose admin has this checkout's password, as ours."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
        if comment and comment.startswith(DATABASE_MARK):
            if not hmac.compare_digest(comment.removeprefix(DATABASE_MARK), fingerprint):
                fail(other_secrets(url))
            return
        if await conn.fetchval("SELECT to_regclass('auth.users') IS NOT NULL"):
            stored = await conn.fetchval("SELECT password_hash FROM auth.users WHERE username = $1", ADMIN)
            users = await conn.fetchval("SELECT count(*) FROM auth.users")
            if users and not verify_password(stored, admin_password):
                fail(other_secrets(url))
        # The fingerprint is hex and the name checked: nothing here can break out of the statement.
        await conn.execute(f"COMMENT ON DATABASE \"{database_name(url)}\" IS '{DATABASE_MARK}{fingerprint}'")
    finally:
        await conn.close()


async def admin_password_matches(url: str, password: str) -> bool:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM auth.users WHERE username = $1", ADMIN)
    finally:
        await conn.close()
    return verify_password(stored, password)


def load_state(state_dir: Path) -> dict[str, str]:
    """Secrets generated on the first run and kept, so keys made earlier keep working after a restart."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "dev-secrets.env"
    state: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key and value:
                state[key] = value
    for key in ("INTERNAL_SIGNING_KEY", "SECRET_PEPPER", "ENCRYPTION_KEY", "ADMIN_PASSWORD"):
        state.setdefault(key, secrets.token_urlsafe(32 if key != "ADMIN_PASSWORD" else 12))
    path.write_text("".join(f"{key}={value}\n" for key, value in state.items()))
    path.chmod(0o600)
    return state


def run_step(description: str, args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        say(result.stderr.strip() or result.stdout.strip())
        fail(f"{description} failed (exit {result.returncode})")
    return result.stdout.strip()


async def pump(name: str, stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        say(line.decode(errors="replace").rstrip(), name)


async def wait_ready(name: str, port: int, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.returncode is not None:
            fail(f"{name} exited with code {process.returncode} during start-up (see its log above)")
        reader_writer = None
        with contextlib.suppress(OSError):
            reader_writer = await asyncio.open_connection("127.0.0.1", port)
        if reader_writer:
            reader, writer = reader_writer
            writer.write(f"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            status_line = await reader.readline()
            writer.close()
            if b" 200 " in status_line:
                return
        await asyncio.sleep(0.3)
    fail(f"{name} did not become ready within {READY_TIMEOUT_SECONDS} s")


async def stop_all(processes: dict[str, asyncio.subprocess.Process], shutdown_timeout: float) -> int:
    """SIGTERM to every service (after Ctrl-C they have the terminal's SIGINT too; the second signal is harmless),
    then wait for each: SHUTDOWN_TIMEOUT for its requests and jobs, plus STOP_GRACE_SECONDS for closing up."""
    for process in processes.values():
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    codes: dict[str, int] = {}
    deadline = time.monotonic() + shutdown_timeout + STOP_GRACE_SECONDS
    for name, process in processes.items():
        try:
            codes[name] = await asyncio.wait_for(process.wait(), max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            say(f"{name} did not stop within {shutdown_timeout + STOP_GRACE_SECONDS:.0f} s; killing it")
            process.kill()
            codes[name] = await process.wait()
    unclean = {name: code for name, code in codes.items() if code != 0}
    if unclean:
        say(f"stopped, with non-zero exits: {unclean}")
        return 1
    say("all services stopped cleanly")
    return 0


def examples(gateway: str, api_key: str) -> str:
    sample = ROOT / "services" / "importer" / "samples" / "products.csv"
    return f"""
Gateway:  {gateway}
API key:  {api_key}
(shown once; make more with: python -m services.auth.cli create-key --username admin --name NAME)

Try:
  curl -s -H 'X-API-Key: {api_key}' '{gateway}/odata/products?$top=2&$select=id,name,price'

  curl -s -X POST -H 'X-API-Key: {api_key}' -H 'Content-Type: application/json' \\
       -d '{{"query": "products {{ id, name, price, stock }}"}}' {gateway}/api/query

  curl -s -H 'X-API-Key: {api_key}' -F file=@{sample} -F entity=products -F mapperId=products-default \\
       {gateway}/api/import
"""


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/up.sh", description="Start the whole platform with demo data.")
    parser.add_argument(
        "--reset", action="store_true", help="drop and recreate the database (made by another checkout, say)"
    )
    args = parser.parse_args(argv)
    env = dict(os.environ)
    database_url = env.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/commerce")
    amqp_url = env.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    env.setdefault("BUS_PREFIX", "platform")
    state_dir = Path(env.get("STATE_DIR", ROOT / "var"))
    try:
        shutdown_timeout = float(env.get("SHUTDOWN_TIMEOUT") or DEFAULT_SHUTDOWN_TIMEOUT)
    except ValueError:
        fail(f"SHUTDOWN_TIMEOUT must be a number of seconds, not {env['SHUTDOWN_TIMEOUT']!r}")
    ports = {
        name: int(env.get(f"{name.upper()}_PORT", default))
        for name, default in (("gateway", 8080), ("auth", 8081), ("odata", 8082), ("importer", 8083))
    }
    for name, port in ports.items():
        if tcp_open("127.0.0.1", port):
            fail(f"port {port} for {name} is taken; stop what uses it or set {name.upper()}_PORT")

    ensure_postgresql(database_url)
    ensure_rabbitmq(amqp_url)
    await check_broker(amqp_url)
    await ensure_database(database_url, args.reset)
    state = load_state(state_dir)
    for key in ("INTERNAL_SIGNING_KEY", "SECRET_PEPPER", "ENCRYPTION_KEY"):
        env.setdefault(key, state[key])
    admin_hint = "from ADMIN_PASSWORD" if env.get("ADMIN_PASSWORD") else f"in {state_dir}/dev-secrets.env"
    env["ADMIN_PASSWORD"] = env.get("ADMIN_PASSWORD") or state["ADMIN_PASSWORD"]
    await check_database_secrets(database_url, secrets_fingerprint(env), env["ADMIN_PASSWORD"])
    env.update(
        AUTH_URL=f"http://127.0.0.1:{ports['auth']}",
        ODATA_URL=f"http://127.0.0.1:{ports['odata']}",
        IMPORTER_URL=f"http://127.0.0.1:{ports['importer']}",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{ports['gateway']}",
        OAUTH_ISSUER=f"http://127.0.0.1:{ports['gateway']}",
        PYTHONUNBUFFERED="1",
    )

    say("loading demo data (migrations, products in categories, admin user, mappers)")
    run_step("demo catalog", ["-m", "services.odata.demo", "--products", env.get("DEMO_PRODUCTS", "300")], env)
    run_step("admin user", ["-m", "services.auth.cli", "create-admin", "--username", ADMIN, "--if-missing"], env)
    if not await admin_password_matches(database_url, env["ADMIN_PASSWORD"]):
        # Changed on the panel since: kept, but never passed off as the one this launcher holds.
        say(f"NOTE: the admin user keeps a password set earlier, not the one {admin_hint} (--reset renews it)")
        admin_hint = "the one set earlier"
    run_step("demo mappers", ["-m", "services.importer.cli", "create-demo-mappers"], env)

    processes: dict[str, asyncio.subprocess.Process] = {}
    pumps: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for name in SERVICES:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{name}",
                env={**env, "LISTEN_PORT": str(ports[name])},
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            processes[name] = process
            assert process.stdout is not None
            pumps.append(asyncio.create_task(pump(name, process.stdout)))
        for name in SERVICES:
            await wait_ready(name, ports[name], processes[name])
        api_key = run_step(
            "API key",
            [
                "-m",
                "services.auth.cli",
                "create-key",
                "--username",
                "admin",
                "--name",
                f"launcher {time.strftime('%Y-%m-%d %H:%M:%S')}",
            ],
            env,
        )
        say(examples(f"http://127.0.0.1:{ports['gateway']}", api_key))
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        say(f"Control panel: {gateway}/panel/  (user {ADMIN}; password {admin_hint})")
        say("all services ready; press Ctrl-C to stop")
        exited = [asyncio.create_task(p.wait()) for p in processes.values()]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, *exited], return_when=asyncio.FIRST_COMPLETED)
        for name, process in processes.items():
            if process.returncode is not None and not stop.is_set():
                say(f"{name} exited unexpectedly with code {process.returncode}; stopping the others")
        return await stop_all(processes, shutdown_timeout)
    except SystemExit:
        await stop_all(processes, shutdown_timeout)
        raise
    finally:
        for task in pumps:
            task.cancel()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
