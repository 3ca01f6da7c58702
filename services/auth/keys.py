"""Typed application state of the auth service."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.auth.config import Config
from services.auth.crypto import CredentialHasher, TokenCipher
from services.auth.events import RevocationPublisher
from services.auth.throttle import FailedAttemptThrottle
from services.auth.usage import UsageRecorder

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
HASHER = web.AppKey("hasher", CredentialHasher)
CIPHER = web.AppKey("cipher", TokenCipher)
PUBLISHER = web.AppKey("publisher", RevocationPublisher)
THROTTLE = web.AppKey("throttle", FailedAttemptThrottle)
USAGE = web.AppKey("usage", UsageRecorder)
