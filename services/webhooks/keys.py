"""Typed application state of the webhooks service."""

from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiohttp import web
from aiohttp.abc import AbstractResolver

from services.webhooks.config import Config
from services.webhooks.deliverer import Deliverer
from services.webhooks.owners import OwnerDirectory
from services.webhooks.sender import WebhookSender
from services.webhooks.signing import SecretCipher
from services.webhooks.targets import AddressPolicy

CONFIG = web.AppKey("config", Config)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", AbstractRobustConnection)
PUBLISHER = web.AppKey("publisher", AbstractChannel)
CIPHER = web.AppKey("cipher", SecretCipher)
POLICY = web.AppKey("policy", AddressPolicy)
RESOLVER = web.AppKey("resolver", AbstractResolver)
OWNERS = web.AppKey("owners", OwnerDirectory)
SENDER = web.AppKey("sender", WebhookSender)
DELIVERER = web.AppKey("deliverer", Deliverer)
