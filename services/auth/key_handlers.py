"""Thin handlers for API keys (docs/api-keys-and-basic.md)."""

from __future__ import annotations

from aiohttp import web

from services.auth import api_keys, inputs
from services.auth.http_inputs import json_object, manager, secret_response
from services.auth.keys import CONTEXT
from services.auth.permissions import parse_permissions
from shared.errors import BadRequest

MAX_KEYS_PAGE = 500


async def list_keys(request: web.Request) -> web.Response:
    principal = manager(request)
    query = request.query
    raw_all = query.get("all", "false")
    if raw_all not in ("true", "false"):
        raise BadRequest("all must be true or false", target="all")
    all_users = raw_all == "true"
    limit = inputs.integer(query.get("limit", "100"), "limit", 1, MAX_KEYS_PAGE)
    offset = inputs.integer(query.get("offset", "0"), "offset", 0, 100_000)
    keys = await api_keys.list_keys(request.app[CONTEXT], principal, all_users, limit, offset)
    return web.json_response({"value": keys})


async def create_key(request: web.Request) -> web.Response:
    principal = manager(request)
    body = await json_object(request, frozenset({"name", "expires_at", "scope", "user_id"}))
    name = inputs.text(body, "name", inputs.MAX_KEY_NAME_LENGTH)
    assert name is not None
    scope = parse_permissions(body["scope"], "scope") if body.get("scope") is not None else None
    owner = inputs.integer(body["user_id"], "user_id", 1, 2**62) if body.get("user_id") is not None else None
    created = await api_keys.create_key(
        request.app[CONTEXT],
        principal,
        name=name,
        expires_at=inputs.expiry(body.get("expires_at")),
        scope=scope,
        owner_id=owner,
    )
    return secret_response(created, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    principal = manager(request)
    key_id = inputs.path_uuid(request.match_info["id"], "API key")
    return web.json_response(await api_keys.revoke_key(request.app[CONTEXT], principal, key_id))


async def rotate_key(request: web.Request) -> web.Response:
    principal = manager(request)
    key_id = inputs.path_uuid(request.match_info["id"], "API key")
    body = await json_object(request, frozenset({"grace_seconds"}))
    grace = inputs.integer(body.get("grace_seconds"), "grace_seconds", 0, api_keys.MAX_GRACE_SECONDS)
    rotated = await api_keys.rotate_key(request.app[CONTEXT], principal, key_id, grace)
    return secret_response(rotated, status=201)
