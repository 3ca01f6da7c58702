"""Builds the auth service's aiohttp application (plain: no network until start-up)."""

from __future__ import annotations

from aiohttp import web

from services.auth import lifecycle
from services.auth.apiphp.setup import setup_apiphp
from services.auth.config import Config
from services.auth.crypto import CredentialHasher, TokenCipher
from services.auth.keys import CIPHER, CONFIG, COUNTERS, HASHER, POOL, THROTTLE, USAGE, VERIFIER
from services.auth.oauth.setup import setup_oauth
from services.auth.outbox import announce_before_answering
from services.auth.routes import add_routes
from services.auth.throttle import FailedAttemptThrottle
from services.auth.usage import UsageRecorder
from services.auth.verification import Verifier
from services.auth.web.setup import setup_web
from shared.counters import Counters
from shared.errors import error_middleware
from shared.health import add_health_routes
from shared.logs import request_id_middleware
from shared.metrics import METRICS, ServiceMetrics

MAX_BODY_BYTES = 64 * 1024


def create_app(config: Config) -> web.Application:
    metrics = ServiceMetrics(config.common.service)
    app = web.Application(
        middlewares=[request_id_middleware, metrics.middleware, error_middleware, announce_before_answering],
        client_max_size=MAX_BODY_BYTES,
    )
    metrics.track_pool(lambda: app.get(POOL))
    app[CONFIG] = config
    app[METRICS] = metrics
    app[HASHER] = CredentialHasher(config.secret_pepper.bytes)
    app[CIPHER] = TokenCipher(config.encryption_key.bytes)
    app[COUNTERS] = Counters(f"{config.common.bus_prefix}:auth:")
    app[THROTTLE] = FailedAttemptThrottle(app[COUNTERS], "verify")
    app[USAGE] = UsageRecorder()
    app[VERIFIER] = Verifier(app[HASHER], app[THROTTLE], app[USAGE], config.verify_cache_ttl)
    app.cleanup_ctx.append(lifecycle.shared_counters)
    app.cleanup_ctx.append(lifecycle.database)
    app.cleanup_ctx.append(lifecycle.message_bus)
    app.cleanup_ctx.append(lifecycle.housekeeping)
    app.cleanup_ctx.append(lifecycle.revocation_outbox)
    add_health_routes(app, {"postgresql": lifecycle.check_database, "rabbitmq": lifecycle.check_bus})
    add_routes(app)
    # After the cleanup contexts above: OAuth uses the pool and the bus they open.
    setup_oauth(app, config, config.oauth, app[COUNTERS])
    # api.php and the pages sign users in with the OAuth session store, so they come after it.
    setup_apiphp(app)
    setup_web(app)
    return app
