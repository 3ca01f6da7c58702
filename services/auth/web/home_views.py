"""The panel's landing page, and its answer for a path it does not have."""

from __future__ import annotations

from aiohttp import web

from services.auth.web.guards import panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.errors import NotFound


@panel_page
async def home(request: web.Request, user: SignedInUser) -> Page:
    return Page("home.html", {"title": "Control panel"})


@panel_page
async def not_found(request: web.Request, user: SignedInUser) -> Page:
    raise NotFound("There is no such page in the control panel")


async def to_home(request: web.Request) -> web.StreamResponse:
    return redirect("/panel/")
