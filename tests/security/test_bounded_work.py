"""Bounded work per request, tried from outside through the gateway: a Query API document cannot select a relation
twice nor read more than the documented relations and rows; an upload cannot trickle for ever nor can one user hold
more than their share of the importer's connections with uploads in progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.importer.keys import UPLOAD_SLOTS
from tests.security._limits_stack import Stack, from_address, limits_stack

MAX_ROWS = 20
BOUNDARY = "limits-test-boundary"


@pytest.fixture
async def stack(base_env: dict[str, str], admin_api_key: str) -> AsyncIterator[Stack]:
    settings = {
        "odata": {"QUERY_MAX_ROWS": str(MAX_ROWS)},
        "importer": {"UPLOAD_DEADLINE": "1", "UPLOADS_PER_USER": "1", "IMPORT_WAIT_SECONDS": "0"},
    }
    async with limits_stack(base_env, admin_api_key, **settings) as running:
        yield running


async def query(stack: Stack, document: str) -> tuple[int, Any]:
    url = f"{stack.gateway}/api/query"
    async with stack.http.post(url, json={"query": document}, headers=stack.admin()) as response:
        return response.status, await response.json()


async def test_a_relation_selected_twice_is_refused(stack: Stack) -> None:
    status, body = await query(stack, "products(limit: 1) { id category { name } category { slug } }")
    assert status == 400 and "selected twice" in body["error"]["message"]


async def test_a_document_with_more_relations_than_the_limit_is_refused_naming_it(stack: Stack) -> None:
    root = "orders(limit: 1) { customer { email } items { quantity } }"
    document = " ".join(f"r{index}: {root}" for index in range(6))
    status, body = await query(stack, document)
    assert status == 400
    assert (body["error"]["code"], body["error"]["limit"], body["error"]["maximum"]) == (
        "query_limit_exceeded",
        "relations_per_query",
        10,
    )


async def test_roots_asking_more_rows_than_the_limit_are_refused_before_any_read(stack: Stack) -> None:
    status, body = await query(stack, f"products(limit: {MAX_ROWS + 1}) {{ id }}")
    assert status == 400
    assert (body["error"]["limit"], body["error"]["maximum"]) == ("rows_per_query", MAX_ROWS)


async def test_related_rows_past_the_limit_are_refused_naming_it(stack: Stack) -> None:
    document = "a: products(limit: 10) { id } b: products(limit: 10, offset: 10) { id category { name } }"
    status, body = await query(stack, document)
    assert status == 400
    assert (body["error"]["code"], body["error"]["limit"]) == ("query_limit_exceeded", "rows_per_query")
    assert str(MAX_ROWS) in body["error"]["message"]


async def test_a_document_within_the_limits_is_answered(stack: Stack) -> None:
    status, body = await query(stack, "products(limit: 5) { id category { name } }")
    assert status == 200 and len(body["products"]) == 5


def _form_head(mapper_id: str = "products-default") -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="entity"\r\n\r\nproducts\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="mapperId"\r\n\r\n{mapper_id}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nsku;name;price\n",
    ]
    return "".join(parts).encode()


async def _trickle(stop: asyncio.Event) -> AsyncIterator[bytes]:
    """A multipart upload that never ends on its own: one row every 0.1 s until `stop`."""
    yield _form_head()
    row = 0
    while not stop.is_set():
        row += 1
        yield f"SLOW-{row};Slow row;1,00\n".encode()
        await asyncio.sleep(0.1)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _complete(rows: str) -> bytes:
    return _form_head() + rows.encode() + f"\r\n--{BOUNDARY}--\r\n".encode()


async def upload(stack: Stack, key: str, body: Any) -> tuple[int, Any]:
    headers = {
        "X-API-Key": key,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        **from_address("192.0.2.30"),
    }
    async with stack.http.post(f"{stack.gateway}/api/import", data=body, headers=headers) as response:
        return response.status, await response.json()


async def importer_key(stack: Stack) -> str:
    user = await stack.create_user(permissions=["imports:create", "products:create", "products:update"])
    return await stack.api_key(user)


async def test_an_upload_trickling_past_the_deadline_is_cut_off_with_408(stack: Stack) -> None:
    stop = asyncio.Event()
    try:
        status, body = await asyncio.wait_for(upload(stack, await importer_key(stack), _trickle(stop)), 20)
    finally:
        stop.set()
    assert status == 408 and body["error"]["code"] == "upload_deadline_exceeded"
    assert len(stack.apps["importer"][UPLOAD_SLOTS]) == 0  # its connection and slot are given back


@pytest.fixture
async def patient_stack(base_env: dict[str, str], admin_api_key: str) -> AsyncIterator[Stack]:
    """Uploads may take a minute here, so the one held open is not cut off by the deadline during the test."""
    settings = {"importer": {"UPLOAD_DEADLINE": "60", "UPLOADS_PER_USER": "1", "IMPORT_WAIT_SECONDS": "0"}}
    async with limits_stack(base_env, admin_api_key, **settings) as running:
        yield running


async def test_one_user_cannot_have_more_uploads_in_progress_than_the_limit(patient_stack: Stack) -> None:
    stack = patient_stack
    holder, other = await importer_key(stack), await importer_key(stack)
    stop = asyncio.Event()
    first = asyncio.create_task(upload(stack, holder, _trickle(stop)))
    try:
        for _ in range(100):
            if len(stack.apps["importer"][UPLOAD_SLOTS]) == 1:
                break
            await asyncio.sleep(0.05)
        status, body = await upload(stack, holder, _complete("SECOND-1;Second;1,00\n"))
        assert status == 429 and body["error"]["code"] == "too_many_uploads"
        status, body = await upload(stack, other, _complete("OTHER-1;Other;1,00\n"))
        assert status in (200, 202), body
    finally:
        stop.set()
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
