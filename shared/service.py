"""Running a service: configuration errors end the process with a clear message, SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

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
    """Read config, start the app; on SIGTERM or Ctrl-C it stops accepting connections, lets in-flight
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
        asyncio.run(_serve(create_app(config), common, tls))
    except (OSError, DependencyUnavailable) as error:
        log.error("%s could not start: %s", name, error)
        print(f"{name}: could not start: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    log.info("%s stopped", name)


async def _serve(app: web.Application, common: CommonConfig, tls: ssl.SSLContext | None) -> None:
    """web.run_app, except that only the first SIGINT or SIGTERM counts. Ctrl-C in a terminal signals the whole
    process group, and a launcher then adds its own SIGTERM: with run_app that second signal aborts the graceful
    shutdown half-way (exit 1, resources left open). The app's metrics are served on a listener of their own."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # aiohttp's access log is off: it would write the query string, which may hold an access_token;
    # shared.logs writes the access log instead.
    runner = PlatformAppRunner(app, access_log=None, shutdown_timeout=common.shutdown_timeout)
    metrics_runners: list[web.AppRunner] = []
    stopping = asyncio.create_task(stop.wait())
    starting = asyncio.create_task(_start(runner, common, tls, metrics_runners))
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # stopped while still waiting for PostgreSQL or RabbitMQ
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return
        starting.result()
        await stopping
    finally:
        stopping.cancel()
        for metrics_runner in metrics_runners:
            await metrics_runner.cleanup()
        await runner.cleanup()


async def _start(
    runner: web.AppRunner, common: CommonConfig, tls: ssl.SSLContext | None, metrics_runners: list[web.AppRunner]
) -> None:
    """Serve the app on LISTEN_HOST:LISTEN_PORT and its metrics (if it keeps a METRICS) on METRICS_HOST:METRICS_PORT."""
    await runner.setup()
    await web.TCPSite(runner, common.host, common.port, ssl_context=tls).start()
    metrics = runner.app.get(METRICS)
    if metrics is not None and common.metrics_port:
        metrics_runner = PlatformAppRunner(create_metrics_app(metrics), access_log=None, shutdown_timeout=1.0)
        metrics_runners.append(metrics_runner)
        await metrics_runner.setup()
        await web.TCPSite(metrics_runner, common.metrics_host, common.metrics_port).start()
        log.info("serving metrics on %s:%s", common.metrics_host, common.metrics_port)


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
