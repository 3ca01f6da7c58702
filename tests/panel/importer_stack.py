"""What the Imports and Mappers pages need besides the panel: the real importer (its API; the tests run the worker's
run_job themselves, so a job can be held half-way while the browser watches it) and the real OData service to read
the catalog back; the auth service pointed at that importer. Also axe-core and the screenshots folder."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.auth.app import create_app as create_auth
from services.auth.config import Config as AuthConfig
from services.importer.app import create_app as create_importer
from services.importer.config import Config as ImporterConfig
from services.importer.importing import JobOutcome, run_job
from services.importer.keys import POOL as IMPORTER_POOL
from services.odata.app import create_app as create_odata
from services.odata.config import Config as OdataConfig
from shared.bus import Topology, delete_topology
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.conftest import SERVICE_SECRET_ENV
from tests.panel.conftest import Panel

AXE_FOLDER = Path(__file__).resolve().parent
AXE_SCRIPT = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BATCH_ROWS = 3

Progress = Callable[[int], Awaitable[None]]


async def _quiet(rows_done: int) -> None:
    return None


@dataclass
class ImportStack:
    """The panel (auth service) with IMPORTER_URL set, the importer and OData behind it."""

    panel: Panel
    importer: TestServer
    odata: TestServer

    def principal_of(self, user: dict[str, Any]) -> Principal:
        """The user's principal as the gateway forwards it for their API key (admins hold every permission)."""
        return Principal(
            user_id=user["id"],
            username=user["username"],
            is_admin=user["is_admin"],
            permissions=frozenset(_ALL if user["is_admin"] else user["permissions"]),
            credential_kind="api_key",
            credential_id=secrets.token_hex(8),
        )

    async def api(
        self,
        service: str,
        user: dict[str, Any],
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """An API call as the gateway forwards it: (status, JSON body)."""
        server = {"importer": self.importer, "odata": self.odata}[service]
        signed = sign_principal(self.principal_of(user), self.panel.signing_key, service)
        headers = {**(headers or {}), PRINCIPAL_HEADER: signed}
        async with aiohttp.ClientSession() as session:
            async with session.request(method, str(server.make_url(path)), headers=headers, **kwargs) as response:
                body = await response.json(content_type=None) if response.status != 204 else None
                return response.status, body

    async def run_job(self, job_id: str, progress: Progress = _quiet) -> JobOutcome:
        """What the importer's worker does with the job's message."""
        outcome = await run_job(
            self.importer.app[IMPORTER_POOL], uuid.UUID(job_id), batch_rows=BATCH_ROWS, progress=progress
        )
        assert outcome is not None
        return outcome


_ALL = {
    f"{resource}:{action}"
    for resource in ("products", "categories", "customers", "orders", "imports", "mappers")
    for action in ("read", "create", "update", "delete")
}


@asynccontextmanager
async def running_stack(
    database_url: str, amqp_url: str, bus_prefix: str, signing_key: str
) -> AsyncIterator[ImportStack]:
    # A bus of its own: these tests run jobs by hand, and no other suite's worker may take them from the queue.
    own_prefix = f"{bus_prefix}-imports-{secrets.token_hex(3)}"
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "BUS_PREFIX": own_prefix,
        "INTERNAL_SIGNING_KEY": signing_key,
        "LOG_LEVEL": "WARNING",
        "METRICS_PORT": "0",
        **SERVICE_SECRET_ENV,
    }
    servers: list[TestServer] = []

    async def start(app: Any) -> TestServer:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    try:
        # API only: the tests run each job themselves, as the worker would, to hold one half-way.
        importer = await start(create_importer(ImporterConfig.from_env({**env, "IMPORTER_WORKER": "false"})))
        odata = await start(create_odata(OdataConfig.from_env(env)))
        importer_url = str(importer.make_url("")).rstrip("/")
        config = AuthConfig.from_env({**env, "IMPORTER_URL": importer_url})
        auth = await start(create_auth(config))
        panel = Panel(str(auth.make_url("")).rstrip("/"), auth, config.common.signing_key.bytes)
        yield ImportStack(panel, importer, odata)
    finally:
        for server in reversed(servers):
            await server.close()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await delete_topology(await connection.channel(), Topology(own_prefix))


@asynccontextmanager
async def browser_page(browser: Any, stack: ImportStack, **options: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=stack.panel.url, **options)
    context.set_default_timeout(10_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def install_axe() -> str:
    """axe-core from npm (tests/panel/package.json), installed on first use; skips when npm cannot get it."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("the accessibility checks need axe-core from npm, and npm is not installed")
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
            cwd=AXE_FOLDER,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if installed.returncode != 0 or not AXE_SCRIPT.exists():
            pytest.skip(f"npm could not install axe-core (the registry may be unreachable): {installed.stderr[-300:]}")
    return AXE_SCRIPT.read_text(encoding="utf-8")


def products_csv(tag: str, rows: int, *, bad: dict[int, str] | None = None) -> str:
    """A products file for the demo-style mapper below: sku;name;price with a comma decimal separator."""
    lines = ["sku;name;price"]
    for n in range(rows):
        price = (bad or {}).get(n, f"{n + 1},50")
        lines.append(f"{tag}-{n:03d};Lamp {n};{price}")
    return "\n".join(lines) + "\n"


async def products_mapper(stack: ImportStack, owner: dict[str, Any], mapper_id: str | None = None) -> str:
    mapper_id = mapper_id or f"panel-{secrets.token_hex(4)}"
    body = {
        "id": mapper_id,
        "entity": "products",
        "name": "Panel test products",
        "definition": {
            "delimiter": ";",
            "key": "sku",
            "columns": [
                {"column": "sku", "field": "sku", "required": True},
                {"column": "name", "field": "name"},
                {"column": "price", "field": "price", "decimalSeparator": ","},
            ],
        },
    }
    status, answer = await stack.api("importer", owner, "POST", "/api/mappers", json=body)
    assert status == 201, answer
    return mapper_id
