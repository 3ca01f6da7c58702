from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiohttp import web

from services.importer.config import Config
from services.importer.waiting import JobWaiters
from services.importer.worker import ImportWorker
from shared.outbox import OutboxPublisher

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", AbstractRobustConnection)
PUBLISHER = web.AppKey("publisher", AbstractChannel)
WAITERS = web.AppKey("waiters", JobWaiters)
WORKER = web.AppKey("worker", ImportWorker)
OUTBOX = web.AppKey("outbox", OutboxPublisher)
