"""A standard OData v4 client (python-odata) builds its classes from our $metadata and pages through a set."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from odata import ODataService

from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal
from tests.odata.conftest import ALL_READ, Seed
from tests.odata.helpers import running_odata


@pytest.fixture
def odata_process(base_env: dict[str, str]) -> Iterator[str]:
    with running_odata({**base_env, "DEFAULT_PAGE_SIZE": "3", "MAX_PAGE_SIZE": "3"}) as url:
        yield url


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


@pytest.mark.slow
def test_python_odata_reads_expands_navigation_filters_and_lambdas(
    odata_process: str, signing_key: str, seed: Seed
) -> None:
    principal = Principal(1, "client", False, ALL_READ, "api_key", "client-key")
    with requests.Session() as session:
        session.headers[PRINCIPAL_HEADER] = sign_principal(principal, signing_key.encode(), "odata")
        service = ODataService(f"{odata_process}/odata/", session=session, reflect_entities=True)
        product = service.entities["products"]
        in_root = (
            service.query(product)
            .filter(product.sku.startswith(seed.prefix))
            .filter(f"category/name eq '{seed.prefix} Root'")
            .expand(product.category)
            .order_by(product.stock.asc())
        )
        found = list(in_root)
        assert [entity.stock for entity in found] == [5, 6, 7, 8, 9]
        assert {entity.category.name for entity in found} == {f"{seed.prefix} Root"}
        ordered = (
            service.query(product)
            .filter(product.sku.startswith(seed.prefix))
            .filter("order_items/any(i: i/quantity eq 1 and i/order/customer/city eq 'Paris')")
        )
        assert sorted(entity.stock for entity in ordered) == [0, 1]
