"""The panel's stylesheet and script, read once at start-up and served with their own content types."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.auth.panel.script import PANEL_JS

STYLESHEET = (Path(__file__).parent / "static" / "panel.css").read_bytes()
SCRIPT = PANEL_JS.encode()
ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(body=STYLESHEET, content_type="text/css", charset="utf-8", headers=ASSET_HEADERS)


async def script(request: web.Request) -> web.Response:
    return web.Response(body=SCRIPT, content_type="text/javascript", charset="utf-8", headers=ASSET_HEADERS)
