from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiohttp import web

from services.importer.config import Config
from services.importer.metrics import ImporterMetrics
from services.importer.uploads import UploadSlots
from services.importer.waiting import JobWaiters
from services.importer.worker import ImportWorker
from shared.outbox import OutboxPublisher

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", AbstractRobustConnection)
PUBLISHER = web.AppKey("publisher", AbstractChannel)
WAITERS = web.AppKey("waiters", JobWaiters)
UPLOAD_SLOTS = web.AppKey("upload_slots", UploadSlots)
WORKER = web.AppKey("worker", ImportWorker)
IMPORTER_METRICS = web.AppKey("importer_metrics", ImporterMetrics)
OUTBOX = web.AppKey("outbox", OutboxPublisher)
