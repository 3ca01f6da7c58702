"""Passwords on the panel: a user changes their own (with the current one), an admin resets another user's. Either
signs the user out everywhere else (OWASP ASVS 3.3.3; the session that made the change stays signed in) and, when
the box is ticked, revokes the user's OAuth refresh tokens at every app, through the same domain operations as
POST /api/me/password and POST /api/users/{id}/password."""

from __future__ import annotations

from aiohttp import web

from services.auth import accounts, db, inputs
from services.auth.keys import CONTEXT, POOL
from services.auth.oauth.keys import OAUTH
from services.auth.passwords import MAX_PASSWORD_LENGTH, validate_password
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.session_cookie import session_id_of
from services.auth.web.visitor import SignedInUser
from shared.errors import ApiError, BadRequest, Forbidden, NotFound

OWN_PATH = "/panel/password"
REVOKE_FIELD = "revoke_refresh_tokens"
CHANGED = "The password was changed. Every other session was signed out."
RESET = "The password was reset; the user was signed out everywhere."


def _effects(request: web.Request, form: Form) -> accounts.PasswordChangeEffects:
    session_id = session_id_of(request)
    keep = request.app[OAUTH].hasher.session(session_id) if session_id else None
    return accounts.PasswordChangeEffects(keep_session_hash=keep, revoke_refresh_tokens=form.ticked(REVOKE_FIELD))


def _own_page(notice: str | None = None, error: str | None = None, status: int = 200) -> Page:
    context = {
        "title": "Your password",
        "action": OWN_PATH,
        "with_current": True,
        "max_length": MAX_PASSWORD_LENGTH,
        "notice": notice,
        "error": error,
    }
    return Page("password/form.html", context, status)


@panel_page
async def own_password(request: web.Request, user: SignedInUser) -> Page:
    return _own_page(notice=CHANGED if request.query.get("done") == "changed" else None)


@panel_form
async def change_own_password(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    try:
        current = form.get("current_password") or ""
        if len(current) > MAX_PASSWORD_LENGTH:
            raise BadRequest("The current password is not correct", target="current_password")
        new = validate_password(form.get("new_password"), "new_password")
        await accounts.change_own_password(request.app[CONTEXT], user.principal, current, new, _effects(request, form))
    except ApiError as error:
        return _own_page(error=error.message, status=error.status)
    return redirect(f"{OWN_PATH}?done=changed")


async def _reset_target(request: web.Request, user: SignedInUser) -> tuple[int, str]:
    if not user.principal.is_admin:
        raise Forbidden("Only an admin may reset another user's password")
    user_id = inputs.path_id(request.match_info["id"], "user")
    async with request.app[POOL].acquire() as conn:
        row = await db.get_user(conn, user_id)
    if row is None:
        raise NotFound("No such user")
    return user_id, row["username"]


def _reset_page(
    user_id: int, username: str, notice: str | None = None, error: str | None = None, status: int = 200
) -> Page:
    context = {
        "title": "Reset password",
        "action": f"/panel/users/{user_id}/password",
        "with_current": False,
        "target_username": username,
        "max_length": MAX_PASSWORD_LENGTH,
        "notice": notice,
        "error": error,
    }
    return Page("password/form.html", context, status)


@panel_page
async def reset_form(request: web.Request, user: SignedInUser) -> Page:
    user_id, username = await _reset_target(request, user)
    return _reset_page(user_id, username, notice=RESET if request.query.get("done") else None)


@panel_form
async def reset_password(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    user_id, username = await _reset_target(request, user)
    try:
        new = validate_password(form.get("new_password"), "new_password")
        await accounts.reset_password(request.app[CONTEXT], user.principal, user_id, new, _effects(request, form))
    except ApiError as error:
        return _reset_page(user_id, username, error=error.message, status=error.status)
    return redirect(f"/panel/users/{user_id}/password?done=reset")
