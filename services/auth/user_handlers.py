"""Thin handlers for users, their permissions, passwords and API access (docs/api-keys-and-basic.md)."""

from __future__ import annotations

import uuid

from aiohttp import web

from services.auth import accounts, inputs
from services.auth.http_inputs import json_object, manager, secret_response
from services.auth.keys import CONTEXT
from services.auth.passwords import validate_password
from services.auth.permissions import parse_permissions
from shared.errors import BadRequest

MAX_USERS_PAGE = 500


async def list_users(request: web.Request) -> web.Response:
    principal = manager(request)
    limit = inputs.integer(request.query.get("limit", "100"), "limit", 1, MAX_USERS_PAGE)
    after = inputs.integer(request.query.get("after", "0"), "after", 0, 2**62)
    users = await accounts.list_users(request.app[CONTEXT], principal, limit, after)
    return web.json_response({"value": users})


async def create_user(request: web.Request) -> web.Response:
    principal = manager(request)
    body = await json_object(request, frozenset({"username", "email", "password", "is_admin", "permissions"}))
    password = body.get("password")
    user = await accounts.create_user(
        request.app[CONTEXT],
        principal,
        username=inputs.username(body),
        email=inputs.email(body),
        password=validate_password(password) if password is not None else None,
        is_admin=inputs.boolean(body, "is_admin", False),
        permissions=parse_permissions(body.get("permissions", []), "permissions"),
    )
    return web.json_response(user, status=201)


async def get_user(request: web.Request) -> web.Response:
    principal = manager(request)
    user = await accounts.get_user(request.app[CONTEXT], principal, inputs.path_id(request.match_info["id"], "user"))
    return web.json_response(user)


async def update_user(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    body = await json_object(request, frozenset({"email", "is_admin", "is_active"}))
    changes: dict[str, object] = {}
    if "email" in body:
        changes["email"] = inputs.email(body)
    for flag in ("is_admin", "is_active"):
        if flag in body:
            changes[flag] = inputs.boolean(body, flag)
    if not changes:
        raise BadRequest("Nothing to change: send email, is_admin or is_active")
    user = await accounts.update_user(request.app[CONTEXT], principal, user_id, changes)
    return web.json_response(user)


async def set_permissions(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    body = await json_object(request, frozenset({"permissions"}))
    if "permissions" not in body:
        raise BadRequest("permissions is required", target="permissions")
    permissions = parse_permissions(body["permissions"], "permissions")
    user = await accounts.set_permissions(request.app[CONTEXT], principal, user_id, permissions)
    return web.json_response(user)


async def set_api_access(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    body = await json_object(request, frozenset({"enabled"}))
    answer = await accounts.set_api_access(request.app[CONTEXT], principal, user_id, inputs.boolean(body, "enabled"))
    return secret_response(answer)


async def show_api_token(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    return secret_response(await accounts.show_api_token(request.app[CONTEXT], principal, user_id))


async def regenerate_api_token(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    return secret_response(await accounts.regenerate_api_token(request.app[CONTEXT], principal, user_id))


async def save_api_token(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    body = await json_object(request, frozenset({"pending_id"}))
    raw = body.get("pending_id")
    if not isinstance(raw, str):
        raise BadRequest("pending_id is required", target="pending_id")
    try:
        pending_id = uuid.UUID(raw)
    except ValueError:
        raise BadRequest("pending_id must be the id returned by regenerate", target="pending_id") from None
    answer = await accounts.save_api_token(request.app[CONTEXT], principal, user_id, pending_id)
    return web.json_response(answer)


async def change_own_password(request: web.Request) -> web.Response:
    principal = manager(request)
    body = await json_object(request, frozenset({"current_password", "new_password", "revoke_refresh_tokens"}))
    current = body.get("current_password")
    if not isinstance(current, str) or len(current) > 1024:
        raise BadRequest("current_password is required", target="current_password")
    new = validate_password(body.get("new_password"), "new_password")
    effects = accounts.PasswordChangeEffects(revoke_refresh_tokens=inputs.boolean(body, "revoke_refresh_tokens", False))
    outcome = await accounts.change_own_password(request.app[CONTEXT], principal, current, new, effects)
    return web.json_response({"changed": True, **outcome})


async def reset_password(request: web.Request) -> web.Response:
    principal = manager(request)
    user_id = inputs.path_id(request.match_info["id"], "user")
    body = await json_object(request, frozenset({"new_password", "revoke_refresh_tokens"}))
    new = validate_password(body.get("new_password"), "new_password")
    effects = accounts.PasswordChangeEffects(revoke_refresh_tokens=inputs.boolean(body, "revoke_refresh_tokens", False))
    outcome = await accounts.reset_password(request.app[CONTEXT], principal, user_id, new, effects)
    return web.json_response({"reset": True, **outcome})
