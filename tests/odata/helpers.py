from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import requests.auth
from aiohttp.test_utils import TestClient

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.odata.conftest import ALL_READ, Seed


async def get_json(client: TestClient, url: str, headers: dict[str, str], status: int = 200, **params: str) -> Any:
    response = await client.get(url, headers=headers, params=params or None)
    body = await response.json()
    assert response.status == status, body
    return body


async def matching(client: TestClient, auth: dict[str, str], seed: Seed, expression: str, **params: str) -> list[int]:
    """The seeded products' indexes matched by a $filter expression (combined with their own prefix filter)."""
    body = await get_json(
        client,
        "/odata/products",
        auth,
        **{"$filter": f"{seed.where()} and ({expression})", "$orderby": "sku", "$top": "50", **params},
    )
    return [int(entity["sku"].rsplit("-", 1)[1]) for entity in body["value"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_odata(env: dict[str, str]) -> Iterator[str]:
    """The odata service as a real process on a free port, stopped (and required to exit cleanly) afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.odata"],
        env={**os.environ, **env, "LISTEN_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the odata service did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        code = process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
        assert code == 0


class Signed(requests.auth.AuthBase):
    """A freshly signed principal on every request (a signature lives only seconds)."""

    def __init__(self, key: str) -> None:
        self.key = key.encode()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        principal = Principal(1, "rules", False, ALL_READ, "api_key", "rules-key")
        request.headers[PRINCIPAL_HEADER] = sign_principal(principal, self.key, "odata")
        return request
