"""Typed application state of the gateway."""

from __future__ import annotations

import aiohttp
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from services.gateway.cache import PrincipalCache
from services.gateway.config import Config
from services.gateway.cors import CorsPolicy
from services.gateway.metrics import GatewayMetrics
from services.gateway.proxy import Forwarder
from services.gateway.ratelimit import RateLimiter
from services.gateway.revocations import RevocationConsumer, RevocationSync
from services.gateway.routes import RouteTable
from services.gateway.transport import TransportPolicy
from services.gateway.verification import AuthClient, CredentialVerifier, JwtVerifier
from shared.counters import Counters

CONFIG = web.AppKey("config", Config)
ROUTE_TABLE = web.AppKey("route_table", RouteTable)
CACHE = web.AppKey("cache", PrincipalCache)
JWT_VERIFIER = web.AppKey("jwt_verifier", JwtVerifier)
SESSION = web.AppKey("session", aiohttp.ClientSession)
AUTH_CLIENT = web.AppKey("auth_client", AuthClient)
VERIFIER = web.AppKey("verifier", CredentialVerifier)
FORWARDER = web.AppKey("forwarder", Forwarder)
BUS = web.AppKey("bus", AbstractRobustConnection)
REVOCATIONS = web.AppKey("revocations", RevocationConsumer)
REVOCATION_SYNC = web.AppKey("revocation_sync", RevocationSync)
COUNTERS = web.AppKey("counters", Counters)
LIMITER = web.AppKey("limiter", RateLimiter)
TRANSPORT = web.AppKey("transport", TransportPolicy)
CORS = web.AppKey("cors", CorsPolicy)
GATEWAY_METRICS = web.AppKey("gateway_metrics", GatewayMetrics)
