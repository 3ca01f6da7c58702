"""GET /healthz (the process is alive) and GET /readyz (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

ReadinessCheck = Callable[[web.Application], Awaitable[None]]
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
# Dependencies whose failure the service rides out on its own (the gateway keeps serving verified principals while
# the auth service is away): reported as "degraded", never taken out of the load balancer for it.
DEGRADING_CHECKS = web.AppKey("degrading_checks", dict[str, ReadinessCheck])
CHECK_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _run_checks(app: web.Application, checks: dict[str, ReadinessCheck]) -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(app), CHECK_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as error:  # a readiness probe reports any failure, it never raises
            results[name] = f"unavailable: {type(error).__name__}"
    return results


async def readyz(request: web.Request) -> web.Response:
    required = await _run_checks(request.app, request.app.get(READINESS_CHECKS, {}))
    degrading = await _run_checks(request.app, request.app.get(DEGRADING_CHECKS, {}))
    ready = all(value == "ok" for value in required.values())
    healthy = ready and all(value == "ok" for value in degrading.values())
    status = "ready" if healthy else "degraded" if ready else "not ready"
    return web.json_response({"status": status, "checks": required | degrading}, status=200 if ready else 503)


def add_health_routes(
    app: web.Application, checks: dict[str, ReadinessCheck], degrading: dict[str, ReadinessCheck] | None = None
) -> None:
    """checks must answer for the service to be ready; degrading ones are reported but keep it in service."""
    app[READINESS_CHECKS] = checks
    app[DEGRADING_CHECKS] = degrading or {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
