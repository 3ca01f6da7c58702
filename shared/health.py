"""GET /healthz (the process is alive) and GET /readyz (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

ReadinessCheck = Callable[[web.Application], Awaitable[None]]
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
CHECK_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = request.app.get(READINESS_CHECKS, {})
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(request.app), CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as error:  # a readiness probe reports any failure, it never raises
            results[name] = f"unavailable: {type(error).__name__}"
    ready = all(value == "ok" for value in results.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503
    )


def add_health_routes(app: web.Application, checks: dict[str, ReadinessCheck]) -> None:
    app[READINESS_CHECKS] = checks
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
