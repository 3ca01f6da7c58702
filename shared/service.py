"""Running a service: configuration errors end the process with a clear message, SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from aiohttp import web

from shared.config import CommonConfig, ConfigError
from shared.http_server import PlatformAppRunner
from shared.logs import configure_logging
from shared.metrics import METRICS, create_metrics_app

log = logging.getLogger(__name__)


class ServiceConfig(Protocol):
    @property
    def common(self) -> CommonConfig: ...


C = TypeVar("C", bound=ServiceConfig)
T = TypeVar("T")


def run_service(
    name: str,
    from_env: Callable[[Mapping[str, str]], C],
    create_app: Callable[[C], web.Application],
    ssl_context: Callable[[C], ssl.SSLContext | None] | None = None,
) -> None:
    """Read config, start the app; on SIGTERM or Ctrl-C aiohttp stops accepting connections, lets in-flight
    requests finish within SHUTDOWN_TIMEOUT, runs the cleanup contexts, and the process exits 0.

    ssl_context, when given, builds the TLS context from the config (None: plain HTTP). The app's metrics (if it
    keeps a shared.metrics.METRICS) are served on METRICS_HOST:METRICS_PORT, a listener of their own."""
    try:
        config = from_env(os.environ)
        tls = ssl_context(config) if ssl_context is not None else None
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    common = config.common
    configure_logging(name, common.log_level)
    log.info("starting %s on %s:%s", name, common.host, common.port)
    try:
        _run_until_signalled(serve(create_app(config), common, tls))
    except (OSError, DependencyUnavailable) as error:
        log.error("%s could not start: %s", name, error)
        print(f"{name}: could not start: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("%s stopped", name)


def _run_until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """As web.run_app does: run until SIGTERM/SIGINT (GracefulExit), then cancel `main` so its clean-up runs."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    task = loop.create_task(main)
    try:
        loop.run_until_complete(task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(task)
            rest = [other for other in asyncio.all_tasks(loop) if not other.done()]
            for other in rest:
                other.cancel()
            if rest:
                loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def serve(app: web.Application, common: CommonConfig, tls: ssl.SSLContext | None) -> None:
    """Serve `app` on LISTEN_HOST:LISTEN_PORT and its metrics on METRICS_HOST:METRICS_PORT until cancelled."""
    # aiohttp's access log is off: it would write the query string, which may hold an access_token;
    # shared.logs writes the access log instead.
    runner = PlatformAppRunner(app, handle_signals=True, access_log=None, shutdown_timeout=common.shutdown_timeout)
    await runner.setup()
    metrics_runner: web.AppRunner | None = None
    try:
        await web.TCPSite(runner, common.host, common.port, ssl_context=tls).start()
        metrics = app.get(METRICS)
        if metrics is not None and common.metrics_port:
            metrics_runner = PlatformAppRunner(create_metrics_app(metrics), access_log=None, shutdown_timeout=1.0)
            await metrics_runner.setup()
            await web.TCPSite(metrics_runner, common.metrics_host, common.metrics_port).start()
            log.info("serving metrics on %s:%s", common.metrics_host, common.metrics_port)
        await asyncio.Event().wait()
    finally:
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await runner.cleanup()


class DependencyUnavailable(Exception):
    """PostgreSQL or RabbitMQ could not be reached at start-up within the allowed time."""


async def connect_with_retry(what: str, connect: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Start-up waits a bounded time for a dependency (compose starts everything at once), then fails clearly."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            return await connect()
        except (TimeoutError, OSError, ConnectionError) as error:
            last = error
        except Exception as error:  # asyncpg and aiormq raise their own classes for refused connections
            if type(error).__module__.split(".")[0] not in ("asyncpg", "aiormq", "aio_pika"):
                raise
            last = error
        if time.monotonic() + delay > deadline:
            raise DependencyUnavailable(f"cannot reach {what}: {type(last).__name__}: {last}") from None
        log.warning("waiting for %s: %s", what, type(last).__name__)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
