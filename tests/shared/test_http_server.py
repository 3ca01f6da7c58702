from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from shared.http_server import MAX_REQUEST_LINE_BYTES, PlatformAppRunner


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    runner = PlatformAppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def _send(port: int, request: bytes) -> tuple[int, str, dict[str, object]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode("latin-1"), json.loads(body)


async def test_a_request_line_within_the_limit_is_served(port: int) -> None:
    path = b"/x?q=" + b"a" * (MAX_REQUEST_LINE_BYTES - 100)
    status, _, body = await _send(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, body) == (200, {"ok": True})


async def test_a_url_over_the_limit_is_a_414_that_neither_answers_nor_logs_the_url(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = b"/x?access_token=the-secret&q=" + b"a" * MAX_REQUEST_LINE_BYTES
    with caplog.at_level(logging.DEBUG):
        status, head, body = await _send(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and "application/json" in head
    assert body["error"]["code"] == "uri_too_long"  # type: ignore[index]
    assert "the-secret" not in json.dumps(body)
    logged = " ".join(f"{record.getMessage()} {record.exc_info}" for record in caplog.records)
    assert "uri_too_long" in logged and "the-secret" not in logged and "access_token" not in logged


async def test_a_header_over_the_limit_is_a_431(port: int) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Api-Key: " + b"k" * 9000 + b"\r\n\r\n"
    status, _, body = await _send(port, request)
    assert status == 431 and body["error"]["code"] == "header_fields_too_large"  # type: ignore[index]
    assert "kkkk" not in json.dumps(body)


async def test_an_unparseable_request_is_a_400_in_the_error_format(port: int) -> None:
    status, _, body = await _send(port, b"GET /?t=the-secret HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
    assert status == 400 and body["error"]["code"] == "bad_request"  # type: ignore[index]
    assert "the-secret" not in json.dumps(body) and "Bad Header" not in json.dumps(body)
