"""The dashboard, the panel's landing page: the signed-in user's keys and recent imports (read from the importer as
that user), the way to become a developer, and for admins the platform's health: which services are ready, the
import queue's depth, the gateway's recent 4xx and 5xx rates, and developer requests waiting."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from services.auth import api_keys, developers, lifecycle
from services.auth.keys import BUS, CONFIG, CONTEXT
from services.auth.platform import ServiceHealth, queue_depths
from services.auth.web.guards import panel_page
from services.auth.web.keys import PLATFORM
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared import bus
from shared.errors import NotFound

KEYS_SHOWN = 5
IMPORTS_SHOWN = 5


async def _own_readiness(app: web.Application) -> ServiceHealth:
    failing = []
    for name, check in (("postgresql", lifecycle.check_database), ("rabbitmq", lifecycle.check_bus)):
        try:
            await asyncio.wait_for(check(app), 2.0)
        except Exception:  # a readiness probe reports any failure, it never raises
            failing.append(name)
    return ServiceHealth("auth", not failing, "ready" if not failing else "not ready: " + ", ".join(failing))


async def _platform_health(request: web.Request, admin: SignedInUser) -> dict[str, Any]:
    app = request.app
    platform = app[PLATFORM]
    readiness, own, depths, rates, waiting = await asyncio.gather(
        platform.readiness(),
        _own_readiness(app),
        queue_depths(app[BUS], bus.Topology(app[CONFIG].common.bus_prefix)),
        platform.request_rates(),
        developers.pending_requests(app[CONTEXT], admin.principal),
    )
    return {"services": [own, *readiness], "queues": depths, "rates": rates, "developer_requests": len(waiting)}


@panel_page
async def home(request: web.Request, user: SignedInUser) -> Page:
    ctx = request.app[CONTEXT]
    keys = None
    if user.can("api_keys", "read"):
        keys = (await api_keys.list_keys(ctx, user.principal, False, KEYS_SHOWN, 0))[:KEYS_SHOWN]
    imports = None
    if user.can("imports", "read"):
        imports = await request.app[PLATFORM].recent_imports(user.principal, IMPORTS_SHOWN)
    context = {
        "title": "Dashboard",
        "keys": keys,
        "can_read_imports": user.can("imports", "read"),
        "imports": imports,
        "developer": await developers.status_of(ctx, user.principal),
        "health": await _platform_health(request, user) if user.principal.is_admin else None,
    }
    return Page("home.html", context)


@panel_page
async def not_found(request: web.Request, user: SignedInUser) -> Page:
    raise NotFound("There is no such page in the control panel")


async def to_home(request: web.Request) -> web.StreamResponse:
    return redirect("/panel/")
