from __future__ import annotations

import asyncpg
from aiohttp import web

from services.odata.config import Config

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
