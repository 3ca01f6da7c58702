"""Waiting for a job's end: the upload call answers with the result when it comes within IMPORT_WAIT_SECONDS.

Every replica listens to the fanout import events exchange on its own exclusive queue, so whichever worker runs
the job, the replica holding the client's request hears ImportJobFinished. It also polls the job row, so a lost
event costs at most a poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from services.importer import db
from shared import bus
from shared.messages import ImportJobFinished, MessageError

POLL_SECONDS = 0.5


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
