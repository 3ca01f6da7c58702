"""Waiting for a job's end: the upload call answers with the result when it comes within IMPORT_WAIT_SECONDS,
sending a space every IMPORT_KEEPALIVE_SECONDS meanwhile so that no proxy cuts an idle connection.

Every replica listens to the fanout import events exchange on its own exclusive queue, so whichever worker runs
the job, the replica holding the client's request hears ImportJobFinished. It also polls the job row, so a lost
event costs at most a poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aiohttp import web

from services.importer import db
from shared import bus
from shared.messages import ImportJobFinished, MessageError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# Asks nginx (and proxies that honour it) to pass each keep-alive space on at once instead of buffering the answer.
UNBUFFERED = {"X-Accel-Buffering": "no"}


class JobWaiters:
    def __init__(self) -> None:
        self._events: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._channel: AbstractChannel | None = None

    async def listen(self, connection: AbstractRobustConnection, topology: bus.Topology) -> None:
        self._channel = await connection.channel()
        queue = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(topology.import_events_exchange)
        await queue.consume(self._on_event, no_ack=True)

    async def close(self) -> None:
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def _on_event(self, message: AbstractIncomingMessage) -> None:
        if message.type != ImportJobFinished.KIND:
            return
        try:
            job_id = uuid.UUID(ImportJobFinished.decode(message.body).job_id)
        except (MessageError, ValueError):
            return
        for event in self._events.get(job_id, ()):
            event.set()

    @asynccontextmanager
    async def watching(self, job_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """Register before the job is published, so an end that comes at once is not missed."""
        event = asyncio.Event()
        self._events.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._events.get(job_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._events[job_id]


async def wait_for_end(pool: asyncpg.Pool, job_id: uuid.UUID, ended: asyncio.Event, timeout: float) -> bool:
    """True when the job reached a final status within the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if await db.job_status(pool, job_id) in db.TERMINAL:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), min(remaining, POLL_SECONDS))
            ended.clear()


async def stream_until_end(
    request: web.Request,
    pool: asyncpg.Pool,
    job_id: uuid.UUID,
    ended: asyncio.Event,
    timeout: float,
    keepalive: float,
    final_view: Callable[[], Awaitable[dict[str, Any]]],
) -> web.StreamResponse:
    """Answer 200 at once and send one space every `keepalive` seconds (whitespace before a JSON value is still
    JSON) until the job ends or `timeout` passes, then the job's view: no proxy in front sees a silent connection.
    The status is 200 either way; the view's `status` says whether the job ended (completed, failed, cancelled)
    or the wait ran out (queued, running: poll statusUrl)."""
    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", **UNBUFFERED},
    )
    await response.prepare(request)
    deadline = time.monotonic() + timeout
    try:
        while not await wait_for_end(pool, job_id, ended, min(keepalive, max(deadline - time.monotonic(), 0))):
            if time.monotonic() >= deadline:
                break
            await response.write(b" ")
        await response.write(json.dumps(await final_view()).encode())
        await response.write_eof()
    except ConnectionResetError:
        # The client went away; the job goes on and its status stays readable at statusUrl.
        log.info("the client of import job %s left before it ended", job_id)
    return response
