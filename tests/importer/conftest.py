"""Fixtures of the importer's tests: the real service (API and worker) on the run's database and bus."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from services.importer.app import create_app
from services.importer.config import Config
from shared.principal import Principal, sign_principal

ALL_ACTIONS = ("read", "create", "update", "delete")
RESOURCES = ("products", "categories", "customers", "orders", "imports", "mappers")


def make_principal(*permissions: str, admin: bool = False) -> Principal:
    return Principal(
        user_id=secrets.randbelow(10**9) + 1000,
        username=f"user-{secrets.token_hex(4)}",
        is_admin=admin,
        permissions=frozenset(permissions),
        credential_kind="api_key",
        credential_id=secrets.token_hex(8),
    )


def everything() -> tuple[str, ...]:
    return tuple(f"{resource}:{action}" for resource in RESOURCES for action in ALL_ACTIONS)


@pytest.fixture
def importer_env(base_env: dict[str, str]) -> dict[str, str]:
    # Small batches so that tests cross batch boundaries with a handful of rows.
    return {**base_env, "IMPORT_WAIT_SECONDS": "10", "BATCH_ROWS": "3", "MAX_UPLOAD_BYTES": "200000"}


@pytest.fixture
async def client(aiohttp_client: Any, importer_env: dict[str, str]) -> TestClient:
    return await aiohttp_client(create_app(Config.from_env(importer_env)))


@pytest.fixture
def sign(signing_key: str) -> Callable[[Principal], dict[str, str]]:
    def headers(principal: Principal) -> dict[str, str]:
        return {"X-Platform-Principal": sign_principal(principal, signing_key.encode(), "importer")}

    return headers


@pytest.fixture
def user() -> Principal:
    return make_principal(*everything())


@pytest.fixture
def as_user(sign: Callable[[Principal], dict[str, str]], user: Principal) -> dict[str, str]:
    return sign(user)


PRODUCT_COLUMNS = [
    {"column": "sku", "field": "sku", "required": True},
    {"column": "name", "field": "name"},
    {"column": "price", "field": "price", "decimalSeparator": ","},
    {"column": "stock", "field": "stock", "default": "0"},
    {"column": "description", "field": "description"},
    {"column": "active", "field": "active", "trueValues": ["ja", "yes"], "falseValues": ["nein", "no"]},
]


@pytest.fixture
async def api_only(aiohttp_client: Any, importer_env: dict[str, str]) -> TestClient:
    """A replica that serves the API but runs no worker: its uploads stay queued."""
    return await aiohttp_client(create_app(Config.from_env({**importer_env, "IMPORTER_WORKER": "false"})))


@pytest.fixture
async def products_mapper(client: TestClient, as_user: dict[str, str]) -> str:
    return await create_products_mapper(client, as_user)


async def create_products_mapper(client: TestClient, as_user: dict[str, str]) -> str:
    mapper_id = f"products-{secrets.token_hex(4)}"
    body = {
        "id": mapper_id,
        "entity": "products",
        "definition": {"delimiter": ";", "key": "sku", "columns": PRODUCT_COLUMNS},
    }
    response = await client.post("/api/mappers", json=body, headers=as_user)
    assert response.status == 201, await response.text()
    return mapper_id


def csv_form(content: bytes | str, entity: str, mapper_id: str, **extra: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    data = content.encode() if isinstance(content, str) else content
    # A stream, as a client sends a file (aiohttp warns about large raw bytes bodies).
    form.add_field("file", io.BytesIO(data), filename="upload.csv", content_type="text/csv")
    form.add_field("entity", entity)
    form.add_field("mapperId", mapper_id)
    for name, value in extra.items():
        form.add_field(name, value)
    return form


def tag() -> str:
    return secrets.token_hex(4).upper()
