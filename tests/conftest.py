"""Fixtures shared by the whole suite.

Every run gets its own PostgreSQL database and its own RabbitMQ name prefix, removed at the end, so runs never
collide. The servers come from DATABASE_URL / AMQP_URL; where those are unset and a Docker engine answers,
testcontainers starts them (images TEST_POSTGRES_IMAGE and TEST_RABBITMQ_IMAGE, default the public postgres and
rabbitmq images; hosts without a registry use the stand-ins of deploy/images/build.sh); otherwise the machine's
local services on their standard ports are used.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import secrets
import shutil
import subprocess
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.bus import Topology, delete_topology
from shared.messages import CredentialRevoked

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
SERVICE_SECRET_ENV = {"SECRET_PEPPER": "p" * 40, "ENCRYPTION_KEY": "e" * 40}


def _docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _without_reaper() -> None:
    # The reaper is one more image to pull, which hosts without a registry cannot; the containers here are stopped
    # by their context managers instead.
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


@contextmanager
def postgres_container() -> Iterator[str]:
    """A throwaway PostgreSQL server (image TEST_POSTGRES_IMAGE); yields its URL."""
    _without_reaper()
    from testcontainers.community.postgres import PostgresContainer

    image = os.environ.get("TEST_POSTGRES_IMAGE") or "postgres:16-alpine"
    with PostgresContainer(image, driver=None) as container:
        yield container.get_connection_url()


@contextmanager
def rabbitmq_container() -> Iterator[str]:
    """A throwaway RabbitMQ broker (image TEST_RABBITMQ_IMAGE); yields its URL."""
    _without_reaper()
    with warnings.catch_warnings():
        # The library's own readiness probe still uses its deprecated decorator; nothing for us to change.
        warnings.filterwarnings("ignore", "The @wait_container_is_ready decorator", DeprecationWarning)
        from testcontainers.community.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer(os.environ.get("TEST_RABBITMQ_IMAGE") or "rabbitmq:3.13-alpine")
        container.start()
    try:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"
    finally:
        container.stop()


@pytest.fixture(scope="session")
def server_database_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif _docker_engine_answers():
        with postgres_container() as url:
            yield url
    else:
        yield LOCAL_DATABASE_URL


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    if os.environ.get("AMQP_URL"):
        yield os.environ["AMQP_URL"]
    elif _docker_engine_answers():
        with rabbitmq_container() as url:
            yield url
    else:
        yield LOCAL_AMQP_URL


@pytest.fixture(scope="session")
def database_url(server_database_url: str) -> Iterator[str]:
    """A fresh database for this run, dropped afterwards."""
    name = f"test_{secrets.token_hex(6)}"
    parts = urlsplit(server_database_url)
    run_url = urlunsplit(parts._replace(path=f"/{name}"))

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield run_url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def bus_prefix(amqp_url: str) -> Iterator[str]:
    """A name prefix for every exchange and queue this run declares, deleted afterwards."""
    prefix = f"test-{secrets.token_hex(6)}"
    yield prefix

    async def cleanup() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await delete_topology(channel, Topology(prefix))

    asyncio.run(cleanup())


@pytest.fixture(scope="session")
def signing_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def base_env(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> dict[str, str]:
    """The settings every service reads; a test adds its service's own and builds Config.from_env(env)."""
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LISTEN_HOST": "127.0.0.1",
        "LISTEN_PORT": "0",
        # No metrics listener unless a test asks for one: the default ports would collide between test runs.
        "METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        "SHUTDOWN_TIMEOUT": "5",
        # One set of service secrets per run: the run's one database keeps values encrypted or hashed under them
        # (the OAuth signing key, API tokens), so every test and service process of the run must agree.
        **SERVICE_SECRET_ENV,
    }


# ---------------------------------------------------------------------------------------------------------------
# The whole platform, for end-to-end tests: the four real services on free ports, talking real HTTP, on the run's
# database and bus prefix. Operators' first steps (admin user, demo data, mappers) go through the real CLIs.


@pytest.fixture(scope="session")
def cli_env(database_url: str, amqp_url: str, bus_prefix: str, signing_key: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": bus_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "ADMIN_PASSWORD": "correct horse battery staple",
        "LOG_LEVEL": "WARNING",
        **SERVICE_SECRET_ENV,
    }


def run_cli(env: dict[str, str], *args: str) -> str:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{args} failed: {result.stderr}"
    return result.stdout.strip()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files: what the gateway's TLS_CERT_FILE and TLS_KEY_FILE name."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture(scope="session")
def demo_data(cli_env: dict[str, str]) -> None:
    run_cli(cli_env, "services.odata.demo", "--products", "40")
    run_cli(cli_env, "services.importer.cli", "create-demo-mappers")


@pytest.fixture(scope="session")
def admin_api_key(cli_env: dict[str, str], demo_data: None) -> str:
    run_cli(cli_env, "services.auth.cli", "create-admin", "--username", "admin", "--if-missing")
    return run_cli(cli_env, "services.auth.cli", "create-key", "--username", "admin", "--name", "e2e admin key")


@dataclass(frozen=True)
class RunningPlatform:
    gateway: str
    auth: str
    odata: str
    importer: str


@pytest.fixture
async def platform(base_env: dict[str, str], demo_data: None) -> AsyncIterator[RunningPlatform]:
    from aiohttp.test_utils import TestServer

    from services.auth.app import create_app as create_auth
    from services.auth.config import Config as AuthConfig
    from services.gateway.app import create_app as create_gateway
    from services.gateway.config import Config as GatewayConfig
    from services.importer.app import create_app as create_importer
    from services.importer.config import Config as ImporterConfig
    from services.odata.app import create_app as create_odata
    from services.odata.config import Config as OdataConfig

    env = {**base_env, **SERVICE_SECRET_ENV}
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    try:
        auth = await start(create_auth(AuthConfig.from_env(env)))
        odata = await start(create_odata(OdataConfig.from_env(env)))
        importer = await start(create_importer(ImporterConfig.from_env({**env, "IMPORT_WAIT_SECONDS": "15"})))
        gateway_env = {**env, "AUTH_URL": auth, "ODATA_URL": odata, "IMPORTER_URL": importer}
        gateway = await start(create_gateway(GatewayConfig.from_env(gateway_env)))
        yield RunningPlatform(gateway=gateway, auth=auth, odata=odata, importer=importer)
    finally:
        for server in reversed(servers):
            await server.close()


class RevocationTap:
    """A queue of our own on the auth events exchange, as a gateway binds one."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue

    async def wait_for(self, matches: Callable[[CredentialRevoked], bool], timeout: float = 5.0) -> CredentialRevoked:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            message = await self.queue.get(fail=False, no_ack=True)
            if message is None:
                await asyncio.sleep(0.02)
                continue
            event = CredentialRevoked.decode(message.body)
            if matches(event):
                return event
        raise AssertionError("no matching CredentialRevoked event was published")


@asynccontextmanager
async def open_revocation_tap(amqp_url: str, bus_prefix: str) -> AsyncIterator[RevocationTap]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            Topology(bus_prefix).auth_events_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        yield RevocationTap(queue)


@pytest.fixture
async def revocations(amqp_url: str, bus_prefix: str) -> AsyncIterator[RevocationTap]:
    async with open_revocation_tap(amqp_url, bus_prefix) as tap:
        yield tap
