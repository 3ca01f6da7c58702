"""Typed application state of the auth service."""

from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from services.auth.config import Config
from services.auth.context import AuthContext
from services.auth.crypto import CredentialHasher, TokenCipher
from services.auth.outbox import OUTBOX as OUTBOX
from services.auth.throttle import FailedAttemptThrottle
from services.auth.usage import UsageRecorder
from services.auth.verification import Verifier
from shared.counters import Counters

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", AbstractRobustConnection)
HASHER = web.AppKey("hasher", CredentialHasher)
CIPHER = web.AppKey("cipher", TokenCipher)
COUNTERS = web.AppKey("counters", Counters)
THROTTLE = web.AppKey("throttle", FailedAttemptThrottle)
USAGE = web.AppKey("usage", UsageRecorder)
VERIFIER = web.AppKey("verifier", Verifier)
CONTEXT = web.AppKey("context", AuthContext)
