"""Adding the control panel to the auth service's application."""

from __future__ import annotations

from aiohttp import web

from services.auth.oauth.keys import OAUTH
from services.auth.panel.routes import add_panel_routes
from services.auth.panel.webhooks_client import webhooks_client


def setup_panel(app: web.Application) -> None:
    """Call after create_app and setup_oauth: the panel signs visitors in with the OAuth server's login page and
    session store (app[OAUTH]) and works on the pool and context the auth app opens at start-up."""
    if OAUTH not in app:
        raise RuntimeError("setup_panel needs the OAuth server: call setup_oauth(app, ...) first")
    add_panel_routes(app)
    app.cleanup_ctx.append(webhooks_client)
