"""A standard OData v4 client (python-odata) builds its classes from our $metadata and pages through a set."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from odata import ODataService

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.odata.conftest import ALL_READ, Seed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def odata_process(base_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **base_env, "LISTEN_PORT": str(port), "DEFAULT_PAGE_SIZE": "3", "MAX_PAGE_SIZE": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "services.odata"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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


@pytest.mark.slow
def test_python_odata_reads_metadata_filters_and_follows_next_links(
    odata_process: str, signing_key: str, seed: Seed
) -> None:
    principal = Principal(1, "client", False, ALL_READ, "api_key", "client-key")
    with requests.Session() as session:
        session.headers[PRINCIPAL_HEADER] = sign_principal(principal, signing_key.encode(), "odata")
        check_client(session, odata_process, seed)


def check_client(session: requests.Session, odata_process: str, seed: Seed) -> None:
    service = ODataService(f"{odata_process}/odata/", session=session, reflect_entities=True)
    assert set(service.entities) == {"products", "categories", "customers", "orders", "order_items"}
    product = service.entities["products"]
    query = service.query(product).filter(product.sku.startswith(seed.prefix)).order_by(product.stock.desc())
    found = list(query)  # ten products, three per page: the client follows three nextLinks
    assert [entity.stock for entity in found] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert found[0].price == Decimal("90.5") and found[0].sku == f"{seed.prefix}-09"
    cheap = service.query(product).filter(product.sku.startswith(seed.prefix)).filter(product.price < 15).all()
    assert sorted(entity.stock for entity in cheap) == [0, 1]
