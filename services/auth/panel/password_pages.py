"""Passwords on the panel: a user changes their own (with the current one), an admin resets another user's. Either
signs the user out everywhere else (OWASP ASVS 3.3.3; the session that made the change stays signed in) and, when
the box is ticked, revokes the user's OAuth refresh tokens at every app, through the same domain operations as
POST /api/me/password and POST /api/users/{id}/password."""

from __future__ import annotations

from html import escape

from aiohttp import web

from services.auth import accounts, db, inputs
from services.auth.keys import CONTEXT, POOL
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.web_forms import session_id_of
from services.auth.panel import markup
from services.auth.panel.forms import Form
from services.auth.panel.guards import panel_form, panel_page
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser
from services.auth.passwords import MAX_PASSWORD_LENGTH, validate_password
from shared.errors import ApiError, BadRequest, Forbidden, NotFound

OWN_PATH = "/panel/password"
REVOKE_FIELD = "revoke_refresh_tokens"
NOTICE = "The password was changed. Every other session was signed out{tokens}."


def _password_field(name: str, label: str, autocomplete: str) -> str:
    return (
        f'<label for="{name}">{escape(label)}</label>'
        f'<input type="password" id="{name}" name="{name}" autocomplete="{autocomplete}" required '
        f'maxlength="{MAX_PASSWORD_LENGTH}">'
    )


def _revoke_box() -> str:
    return (
        f'<label class="check"><input type="checkbox" name="{REVOKE_FIELD}" value="yes"> '
        "Also sign out the applications: revoke the OAuth refresh tokens (and their access tokens) of every app "
        "I authorized</label>"
    )


def password_form(user: PanelUser, action: str, *, with_current: bool) -> str:
    current = _password_field("current_password", "Current password", "current-password") if with_current else ""
    return (
        f'<form method="post" action="{escape(action)}">{markup.csrf_field(user)}'
        f"{current}{_password_field('new_password', 'New password', 'new-password')}{_revoke_box()}"
        '<div class="actions"><button type="submit">Change password</button></div></form>'
    )


def _effects(request: web.Request, form: Form) -> accounts.PasswordChangeEffects:
    session_id = session_id_of(request)
    keep = request.app[OAUTH].hasher.session(session_id) if session_id else None
    return accounts.PasswordChangeEffects(keep_session_hash=keep, revoke_refresh_tokens=form.ticked(REVOKE_FIELD))


@panel_page
async def own_password(request: web.Request, user: PanelUser) -> web.StreamResponse:
    done = request.query.get("done") == "changed"
    notice = NOTICE.format(tokens="") if done else None
    content = password_form(user, OWN_PATH, with_current=True)
    return html(markup.page("Your password", content, user, notice=notice))


@panel_form
async def change_own_password(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    try:
        current = form.get("current_password") or ""
        if len(current) > MAX_PASSWORD_LENGTH:
            raise BadRequest("The current password is not correct", target="current_password")
        new = validate_password(form.get("new_password"), "new_password")
        await accounts.change_own_password(request.app[CONTEXT], user.principal, current, new, _effects(request, form))
    except ApiError as error:
        page = markup.page("Your password", password_form(user, OWN_PATH, with_current=True), user, error=error.message)
        return html(page, status=error.status)
    return redirect(f"{OWN_PATH}?done=changed")


async def _reset_target(request: web.Request, user: PanelUser) -> tuple[int, str]:
    if not user.principal.is_admin:
        raise Forbidden("Only an admin may reset another user's password")
    user_id = inputs.path_id(request.match_info["id"], "user")
    async with request.app[POOL].acquire() as conn:
        row = await db.get_user(conn, user_id)
    if row is None:
        raise NotFound("No such user")
    return user_id, row["username"]


def _reset_page(user: PanelUser, user_id: int, username: str) -> str:
    return (
        f"<p>Set a new password for <strong>{escape(username)}</strong>. They are signed out everywhere.</p>"
        + password_form(user, f"/panel/users/{user_id}/password", with_current=False)
    )


@panel_page
async def reset_form(request: web.Request, user: PanelUser) -> web.StreamResponse:
    user_id, username = await _reset_target(request, user)
    notice = "The password was reset; the user was signed out everywhere." if request.query.get("done") else None
    return html(markup.page("Reset password", _reset_page(user, user_id, username), user, notice=notice))


@panel_form
async def reset_password(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    user_id, username = await _reset_target(request, user)
    try:
        new = validate_password(form.get("new_password"), "new_password")
        await accounts.reset_password(request.app[CONTEXT], user.principal, user_id, new, _effects(request, form))
    except ApiError as error:
        page = markup.page("Reset password", _reset_page(user, user_id, username), user, error=error.message)
        return html(page, status=error.status)
    return redirect(f"/panel/users/{user_id}/password?done=reset")
