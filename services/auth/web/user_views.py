"""The Users area: the list, the Add screen, and the Edit screen where an admin edits a user, their
permissions and their API access ("Enable the API?", "Regenerate API Token", Save). Every change goes through the
same domain operations, and so the same permission checks, as the JSON API."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from services.auth import accounts, db, inputs
from services.auth.keys import CONTEXT, POOL
from services.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, validate_password
from services.auth.permissions import ACTIONS, RESOURCES, parse_permissions
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect, secret_json
from services.auth.web.user_form import MAX_EMAIL_LENGTH, NewUser, UserChanges, UserForm, parse_changes
from services.auth.web.visitor import SignedInUser
from shared.errors import ApiError, Conflict, Forbidden, NotFound

USERS_PAGE = 100
RESOURCE_NAMES = {"api_keys": "API keys"}
NOTICES = {
    "created": "The user was added.",
    "saved": "Saved.",
    "enabled": "Saved. API access is enabled: copy the token below.",
    "disabled": "Saved. API access is revoked: the token no longer works.",
    "regenerated": "Saved. The new token is now in effect; the previous token no longer works.",
}


@panel_page
async def list_users(request: web.Request, user: SignedInUser) -> Page | web.StreamResponse:
    after = inputs.integer(request.query.get("after", "0"), "after", 0, 2**62)
    users = await accounts.list_users(request.app[CONTEXT], user.principal, USERS_PAGE, after)
    next_after = users[-1]["id"] if len(users) == USERS_PAGE else None
    context = {
        "title": "Users",
        "users": users,
        "next_after": next_after,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("users/list.html", context)


@panel_page
async def new_user(request: web.Request, user: SignedInUser) -> Page | web.StreamResponse:
    user.principal.require("users", "create")
    return _add_page(user, NewUser("", "", False, frozenset()))


@panel_form
async def create_user(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    """The Add screen: the account and its permissions; API access is then set on the Edit screen."""
    user.principal.require("users", "create")
    values = NewUser.from_post(form, may_set_admin=user.principal.is_admin)
    password = form.get("password") or None
    try:
        created = await accounts.create_user(
            request.app[CONTEXT],
            user.principal,
            username=inputs.username({"username": values.username}),
            email=inputs.email({"email": values.email or None}),
            password=validate_password(password) if password is not None else None,
            is_admin=values.is_admin,
            permissions=parse_permissions(sorted(values.permissions), "permission"),
        )
    except ApiError as error:
        return _add_page(user, values, error.message, error.status)
    if user.can("users", "update") and (user.principal.is_admin or not created["is_admin"]):
        return redirect(f"/panel/users/{created['id']}?done=created")
    return redirect("/panel/users?done=created")


async def _editable_target(request: web.Request, user: SignedInUser) -> dict[str, Any]:
    """The user to edit, if this editor may edit them: the rules of the domain's own check, applied before the page
    is shown (the domain applies them again on every change)."""
    user.principal.require("users", "update")
    user_id = inputs.path_id(request.match_info["id"], "user")
    async with request.app[POOL].acquire() as conn:
        row = await db.get_user(conn, user_id)
    if row is None:
        raise NotFound("No such user")
    if row["is_admin"] and not user.principal.is_admin:
        raise Forbidden("Only an admin may change an admin user")
    return accounts.user_view(row)


async def _current_token(
    request: web.Request, user: SignedInUser, target: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The token to show in the input box, or why it cannot be shown."""
    if not target["api_access_enabled"]:
        return None, None
    try:
        shown = await accounts.show_api_token(request.app[CONTEXT], user.principal, target["id"])
    except (Conflict, Forbidden, NotFound) as error:
        return None, error.message
    return shown["token"], None


def permission_grid(user: SignedInUser, permissions: frozenset[str]) -> list[dict[str, Any]]:
    """The permissions grid's rows. One cannot grant what one does not hold (the domain refuses it too); one may keep
    or remove it."""
    return [
        {
            "name": RESOURCE_NAMES.get(resource, resource.capitalize()),
            "cells": [
                {
                    "permission": f"{resource}:{action}",
                    "label": f"{resource} {action}",
                    "granted": f"{resource}:{action}" in permissions,
                    "grantable": f"{resource}:{action}" in permissions
                    or f"{resource}:{action}" in user.principal.permissions,
                }
                for action in ACTIONS
            ],
        }
        for resource in RESOURCES
    ]


def _add_page(user: SignedInUser, values: NewUser, error: str | None = None, status: int = 200) -> Page:
    context = {
        "title": "Add User",
        "values": values,
        "grid": permission_grid(user, values.permissions),
        "actions": ACTIONS,
        "error": error,
        "max_email_length": MAX_EMAIL_LENGTH,
        "min_password_length": MIN_PASSWORD_LENGTH,
        "max_password_length": MAX_PASSWORD_LENGTH,
    }
    return Page("users/new.html", context, status)


def _edit_page(
    user: SignedInUser,
    state: UserForm,
    *,
    notice: str | None = None,
    error: str | None = None,
    token_problem: str | None = None,
    status: int = 200,
) -> Page:
    context = {
        "title": f"Edit user {state.username}",
        "state": state,
        "grid": permission_grid(user, state.permissions),
        "actions": ACTIONS,
        "token_problem": token_problem,
        "notice": notice,
        "error": error,
        "max_email_length": MAX_EMAIL_LENGTH,
    }
    return Page("users/edit.html", context, status)


@panel_page
async def edit_user(request: web.Request, user: SignedInUser) -> Page | web.StreamResponse:
    target = await _editable_target(request, user)
    token, problem = await _current_token(request, user, target)
    notice = NOTICES.get(request.query.get("done", ""))
    return _edit_page(user, UserForm.from_user(target, token), notice=notice, token_problem=problem)


@panel_form
async def save_user(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    target = await _editable_target(request, user)
    state = UserForm.from_post(form, target, may_set_admin=user.principal.is_admin)
    try:
        changes = parse_changes(state)
        beyond = changes.permissions - frozenset(target["permissions"]) - user.principal.permissions
        if beyond:
            # Refused before anything is applied, so a Save is not half done (the domain refuses it too).
            raise Forbidden(f"You cannot grant permissions you do not hold: {', '.join(sorted(beyond))}")
        await _apply_account_changes(request, user, target, changes)
    except ApiError as error:
        token, problem = await _current_token(request, user, target)
        shown = dataclasses.replace(state, token=token, pending_id=None)
        return _edit_page(user, shown, error=error.message, token_problem=problem, status=error.status)
    try:
        done = await _apply_api_access(request, user, target, changes)
    except ApiError as error:
        token, problem = await _current_token(request, user, await _editable_target(request, user))
        shown = dataclasses.replace(state, token=token, pending_id=None)
        message = f"The other changes were saved, but not the API access: {error.message}"
        return _edit_page(user, shown, error=message, token_problem=problem, status=error.status)
    return redirect(f"/panel/users/{target['id']}?done={done}")


async def _apply_account_changes(
    request: web.Request, user: SignedInUser, target: dict[str, Any], changes: UserChanges
) -> None:
    ctx = request.app[CONTEXT]
    fields: dict[str, Any] = {}
    if changes.email != target["email"]:
        fields["email"] = changes.email
    if changes.is_active != target["is_active"]:
        fields["is_active"] = changes.is_active
    if user.principal.is_admin and changes.is_admin != target["is_admin"]:
        fields["is_admin"] = changes.is_admin
    if fields:
        await accounts.update_user(ctx, user.principal, target["id"], fields)
    if changes.permissions != frozenset(target["permissions"]):
        await accounts.set_permissions(ctx, user.principal, target["id"], changes.permissions)


async def _apply_api_access(
    request: web.Request, user: SignedInUser, target: dict[str, Any], changes: UserChanges
) -> str:
    """Save: untick revokes; a regenerated token replaces the current one; a new tick enables."""
    ctx = request.app[CONTEXT]
    if not changes.api_enabled:
        if target["api_access_enabled"]:
            await accounts.set_api_access(ctx, user.principal, target["id"], False)
            return "disabled"
        return "saved"
    if changes.pending_id is not None:
        await accounts.save_api_token(ctx, user.principal, target["id"], changes.pending_id)
        return "regenerated"
    if not target["api_access_enabled"]:
        # Without the script the tick is only seen now; the token is generated and shown on the next page.
        await accounts.set_api_access(ctx, user.principal, target["id"], True)
        return "enabled"
    return "saved"


@panel_form
async def regenerate_token(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    """The "Regenerate API Token" link: a new token is shown now and takes effect only on Save. The editor's unsaved
    changes to the rest of the form are kept on the page."""
    target = await _editable_target(request, user)
    state = UserForm.from_post(form, target, may_set_admin=user.principal.is_admin)
    try:
        regenerated = await accounts.regenerate_api_token(request.app[CONTEXT], user.principal, target["id"])
    except Conflict as error:
        return _edit_page(user, dataclasses.replace(state, pending_id=None), error=error.message, status=409)
    state = dataclasses.replace(
        state, api_enabled=True, token=regenerated["token"], pending_id=regenerated["pending_id"]
    )
    notice = "A new API token was generated. Copy the token, then click Save: it takes effect only then."
    return _edit_page(user, state, notice=notice)


@panel_form
async def enable_api_access(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    """Called by app.js when "Yes, allow this user to use the API" is ticked: the token, generated now."""
    user_id = inputs.path_id(request.match_info["id"], "user")
    try:
        answer = await accounts.set_api_access(request.app[CONTEXT], user.principal, user_id, True)
    except ApiError as error:
        return secret_json({"error": error.message}, status=error.status)
    if answer.get("token") is None:
        # Already enabled: the token is never handed out again here; the Edit screen shows it to those who may see it.
        return secret_json({"error": "API access is already enabled for this user; reload the page"}, status=409)
    return secret_json({"token": answer["token"], "username": answer["username"]})
