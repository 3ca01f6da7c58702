"""The panel's home page: links to the areas the signed-in user may open."""

from __future__ import annotations

from html import escape

from aiohttp import web

from services.auth.panel import markup
from services.auth.panel.guards import panel_page
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser
from shared.errors import NotFound


@panel_page
async def home(request: web.Request, user: PanelUser) -> web.StreamResponse:
    cards = "".join(
        f'<li><a href="{escape(item.path)}">{escape(item.title)}</a><p>{escape(item.description)}</p></li>'
        for item in markup.sections(user)
    )
    return html(markup.page("Control panel", f'<ul class="cards">{cards}</ul>', user))


@panel_page
async def not_found(request: web.Request, user: PanelUser) -> web.StreamResponse:
    raise NotFound("There is no such page in the control panel")


async def to_home(request: web.Request) -> web.StreamResponse:
    return redirect("/panel/")
