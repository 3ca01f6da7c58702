"""Thin handlers of the plugin management API ("zero configuration": a plugin host registers a plugin when
it loads it and injects OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET and API_BASE_URL into it)."""

from __future__ import annotations

from aiohttp import web

from services.auth.http_inputs import json_object, manager, secret_response
from services.auth.keys import POOL
from services.auth.oauth.plugins import PluginCredentials, plugins_of
from shared.errors import BadRequest

MAX_SCOPES = 10


def _credentials(credentials: PluginCredentials, name: str) -> dict[str, object]:
    return {"client_id": credentials.client_id, "name": name, "environment": credentials.environment()}


async def list_plugins(request: web.Request) -> web.Response:
    principal = manager(request)
    async with request.app[POOL].acquire() as conn:
        plugins = await plugins_of(request.app).list_all(conn, principal)
    return web.json_response({"value": plugins})


async def register_plugin(request: web.Request) -> web.Response:
    principal = manager(request)
    body = await json_object(request, frozenset({"name", "permissions", "scopes"}))
    name = body.get("name")
    scopes = body.get("scopes")
    if scopes is not None and (
        not isinstance(scopes, list) or len(scopes) > MAX_SCOPES or not all(isinstance(item, str) for item in scopes)
    ):
        raise BadRequest(f"scopes is a list of at most {MAX_SCOPES} scope names", target="scopes")
    async with request.app[POOL].acquire() as conn:
        credentials = await plugins_of(request.app).register(
            conn, principal, name if isinstance(name, str) else "", body.get("permissions"), scopes
        )
    return secret_response(_credentials(credentials, name), status=201)


async def rotate_secret(request: web.Request) -> web.Response:
    principal = manager(request)
    async with request.app[POOL].acquire() as conn:
        credentials = await plugins_of(request.app).rotate_secret(conn, principal, request.match_info["client_id"])
    return secret_response({"client_id": credentials.client_id, "environment": credentials.environment()})


async def revoke_plugin(request: web.Request) -> web.Response:
    principal = manager(request)
    async with request.app[POOL].acquire() as conn:
        await plugins_of(request.app).revoke(conn, principal, request.match_info["client_id"])
    return web.Response(status=204)
