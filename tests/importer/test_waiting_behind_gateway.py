"""A long import waited for through the gateway: the keep-alive spaces keep the gateway's UPSTREAM_TIMEOUT (an
idle limit between reads) from cutting the answer, however long the job takes."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import SERVICE_SECRET_ENV


class Servers:
    def __init__(self) -> None:
        self.started: list[TestServer] = []

    async def start(self, app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        self.started.append(server)
        return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    running = Servers()
    try:
        yield running
    finally:
        for server in reversed(running.started):
            await server.close()


async def test_an_import_outlasting_the_gateways_upstream_timeout_still_answers_200_with_the_counts(
    base_env: dict[str, str], admin_api_key: str, servers: Servers
) -> None:
    from services.auth.app import create_app as create_auth
    from services.auth.config import Config as AuthConfig
    from services.gateway.app import create_app as create_gateway
    from services.gateway.config import Config as GatewayConfig
    from services.importer.app import create_app as create_importer
    from services.importer.config import Config as ImporterConfig
    from services.odata.app import create_app as create_odata
    from services.odata.config import Config as OdataConfig

    env = {**base_env, **SERVICE_SECRET_ENV}
    waiting = {"IMPORT_WAIT_SECONDS": "120", "IMPORT_KEEPALIVE_SECONDS": "0.1"}
    auth = await servers.start(create_auth(AuthConfig.from_env(env)))
    odata = await servers.start(create_odata(OdataConfig.from_env(env)))
    # The replica behind the gateway runs no jobs: the job only ends once a worker replica starts below.
    importer = await servers.start(
        create_importer(ImporterConfig.from_env({**env, **waiting, "IMPORTER_WORKER": "false"}))
    )
    gateway_env = {**env, "AUTH_URL": auth, "ODATA_URL": odata, "IMPORTER_URL": importer, "UPSTREAM_TIMEOUT": "0.5"}
    gateway = await servers.start(create_gateway(GatewayConfig.from_env(gateway_env)))
    sku = f"GW-WAIT-{secrets.token_hex(4).upper()}"
    form = aiohttp.FormData()
    form.add_field("file", f"sku,name,price\n{sku},Waited,2.50\n".encode(), filename="p.csv", content_type="text/csv")
    form.add_field("entity", "products")
    form.add_field("mapperId", "products-default")
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{gateway}/api/import", data=form, headers={"X-API-Key": admin_api_key})
        assert response.status == 200
        spaces = b""
        while len(spaces) < 15:  # 1.5 s of keep-alive: three times the gateway's idle limit
            spaces += await asyncio.wait_for(response.content.read(1), 5)
        assert spaces.strip() == b""
        await servers.start(create_importer(ImporterConfig.from_env(env)))
        body = json.loads(spaces + await asyncio.wait_for(response.content.read(), 60))
    assert (body["status"], body["imported"], body["failed"]) == ("completed", 1, 0)
