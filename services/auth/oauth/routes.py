"""The OAuth server's route table (its pages, login and consent, are services/auth/web's)."""

from __future__ import annotations

from aiohttp import web

from services.auth.oauth import app_handlers, handlers


def add_oauth_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.post("/auth/oauth/token", handlers.token),
            web.post("/auth/oauth/revoke", handlers.revoke),
            web.post("/auth/oauth/introspect", handlers.introspect),
            web.get("/.well-known/jwks.json", handlers.jwks),
            web.get("/.well-known/oauth-authorization-server", handlers.metadata),
            web.get("/internal/oauth/revocations", handlers.revocations),
            web.get("/api/apps", app_handlers.list_apps),
            web.post("/api/apps", app_handlers.create_app),
            web.get("/api/apps/{client_id}", app_handlers.get_app),
            web.patch("/api/apps/{client_id}", app_handlers.update_app),
            web.delete("/api/apps/{client_id}", app_handlers.delete_app),
            web.post("/api/apps/{client_id}/secret/rotate", app_handlers.rotate_secret),
            web.get("/api/authorizations", app_handlers.list_authorizations),
            web.delete("/api/authorizations/{client_id}", app_handlers.revoke_authorization),
            web.post("/api/authorizations/{client_id}/revoke", app_handlers.revoke_authorization),
        ]
    )
