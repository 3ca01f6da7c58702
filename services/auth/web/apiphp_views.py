"""The pages of api.php's token flow (Webasyst's, docs/api.md): GET/POST /api.php/auth.

Users sign in on the one login page (/auth/login), which sends them back here; sessions are the same as OAuth's, so
a user signed in for one flow is signed in for the other. The protocol is services/auth/apiphp's.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.auth.apiphp.authorization import (
    AccessRequest,
    AccessRequestError,
    code_redirect,
    denial_redirect,
    grantable_apps,
    parse_access_request,
    token_redirect,
)
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.keys import POOL
from services.auth.oauth.errors import InvalidRequest
from services.auth.oauth.scopes import describe
from services.auth.oauth.web_forms import form_pairs
from services.auth.web.login_views import APIPHP_AUTHORIZE_PATH
from services.auth.web.rendering import FLOW_HEADERS, Page, redirect, render
from services.auth.web.signin import current_visitor, login_location
from services.auth.web.visitor import SignedInUser


def _error(error: AccessRequestError, status: int = 400) -> Page:
    context = {"title": "API authorization error", "code": error.code, "description": error.description}
    return Page("flow/apiphp_error.html", context, status, FLOW_HEADERS)


def _status_of(error: AccessRequestError) -> int:
    return 403 if error.code == "access_denied" else 400


def _apps_for(access: AccessRequest, user: SignedInUser) -> tuple[str, ...]:
    apps = grantable_apps(access.requested_apps, user.principal.is_admin, user.principal.permissions)
    if not apps:
        raise AccessRequestError("invalid_request", "invalid scope")
    return apps


def _recipient(access: AccessRequest) -> dict[str, str] | None:
    """Who receives the access: the host (or the app's own scheme) the page names, or None for a code shown here."""
    if access.recipient is None:
        return None
    kind = "the application on your device that opens" if access.recipient.endswith(":") else "the web site"
    return {"kind": kind, "name": access.recipient}


async def show_access_request(request: web.Request) -> web.StreamResponse:
    """GET /api.php/auth: the sign-in page first when there is no session, then the access request page. The name
    and id are whatever the application sent (api.php has no registration), so the page says the application is
    unverified and names the host that will receive the token."""
    try:
        access = parse_access_request(request.query.items())
    except AccessRequestError as error:
        return await render(request, _error(error))
    visitor = await current_visitor(request)
    if visitor.user is None:
        back = f"{APIPHP_AUTHORIZE_PATH}?{urlencode(access.as_params())}"
        return redirect(login_location(back), headers=FLOW_HEADERS)
    try:
        apps = _apps_for(access, visitor.user)
    except AccessRequestError as error:
        return await render(request, _error(error, _status_of(error)))
    context = {
        "title": "API access request",
        "client_name": access.client_name,
        "client_id": access.client_id,
        "redirect_uri": access.redirect_uri,
        "recipient": _recipient(access),
        "apps": [{"id": app, "description": describe(app)} for app in apps],
        "params": access.as_params(),
        "action": APIPHP_AUTHORIZE_PATH,
    }
    return await render(request, Page("flow/apiphp_access.html", context, headers=FLOW_HEADERS))


async def decide(request: web.Request) -> web.StreamResponse:
    """POST /api.php/auth from the access request page: Allow -> code or token; Deny -> error=access_denied."""
    try:
        pairs = await form_pairs(request)
    except InvalidRequest:
        return await render(request, _error(AccessRequestError("invalid_request", "The form was malformed")))
    fields = dict(pairs)
    visitor = await current_visitor(request)
    if visitor.user is None:
        ended = AccessRequestError("access_denied", "Your sign-in session has ended; start again")
        return await render(request, _error(ended, 403))
    if not visitor.csrf_matches(fields.get("csrf_token")):
        return await render(request, _error(AccessRequestError("invalid_request", "CSRF Protection"), 403))
    user = visitor.user
    try:
        access = parse_access_request((name, value) for name, value in pairs if name not in ("csrf_token", "decision"))
        apps = _apps_for(access, user)
    except AccessRequestError as error:
        return await render(request, _error(error, _status_of(error)))
    if fields.get("decision") != "allow":
        location = denial_redirect(access)
        if location is None:
            denied = AccessRequestError("access_denied", f"You've denied API access to {access.client_name}")
            return await render(request, _error(denied, 403))
        return redirect(location, 302, FLOW_HEADERS)
    tokens = request.app[APIPHP_TOKENS]
    async with request.app[POOL].acquire() as conn:
        if access.response_type == "token":
            token, _ = await tokens.issue_token(conn, user.user_id, access.client_id, access.client_name, list(apps))
            return redirect(token_redirect(access, token, tokens.token_ttl), 302, FLOW_HEADERS)
        code = await tokens.issue_code(conn, access, user.user_id, apps)
    if not access.redirect_uri:
        context = {"title": "Authorization code", "client_name": access.client_name, "code": code}
        return await render(request, Page("flow/apiphp_code.html", context, headers=FLOW_HEADERS))
    return redirect(code_redirect(access, code), 302, FLOW_HEADERS)
