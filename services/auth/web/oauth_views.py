"""The OAuth pages: the authorization endpoint (RFC 6749 section 3.1) with its consent page, and the list of the
applications a user authorized. The protocol (validation, codes, consent records) is services/auth/oauth's; these
views only show it."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.authorization import (
    RedirectError,
    approve,
    covered_by_consent,
    denial,
    validate_authorization_request,
)
from services.auth.oauth.errors import AuthorizationPageError, InvalidRequest
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.scopes import describe
from services.auth.oauth.web_forms import form_pairs
from services.auth.web.login_views import AUTHORIZATIONS_PATH, AUTHORIZE_PATH, flow_error
from services.auth.web.rendering import FLOW_HEADERS, Page, redirect, render
from services.auth.web.signin import current_visitor, login_location

MAX_CLIENT_ID_LENGTH = 64


def _to(location: str) -> web.Response:
    """A redirect to the application (RFC 6749 4.1.2): 302, as the protocol's examples."""
    return redirect(location, 302, FLOW_HEADERS)


async def authorize(request: web.Request) -> web.StreamResponse:
    """GET: validate the request, then the login page (no session), the code at once (a remembered consent covers
    the scopes) or the consent page."""
    oauth = request.app[OAUTH]
    visitor = await current_visitor(request)
    try:
        async with request.app[POOL].acquire() as conn:
            authorization = await validate_authorization_request(conn, request.query.items(), oauth.config)
            if visitor.user is None:
                back = f"{AUTHORIZE_PATH}?{urlencode(authorization.as_params())}"
                return redirect(login_location(back), headers=FLOW_HEADERS)
            user_id = visitor.user.user_id
            if await covered_by_consent(conn, authorization, user_id):
                return _to(await approve(conn, oauth.hasher, authorization, user_id, oauth.config))
            granted = tuple(await db.get_consent_scopes(conn, user_id, authorization.client.client_id) or ())
    except AuthorizationPageError as error:
        return await render(request, flow_error(error.message))
    except RedirectError as error:
        return _to(error.location)
    scopes = [
        {"scope": scope, "description": describe(scope), "new": bool(granted) and scope not in granted}
        for scope in authorization.scopes
    ]
    context = {
        "title": "Authorize application",
        "client_name": authorization.client.name,
        "redirect_uri": authorization.redirect_uri,
        "scopes": scopes,
        "asked_before": bool(granted),
        "params": authorization.as_params(),
    }
    return await render(request, Page("flow/consent.html", context, headers=FLOW_HEADERS))


async def decide(request: web.Request) -> web.StreamResponse:
    """POST from the consent page: allow -> code and state; deny -> error=access_denied and state."""
    oauth = request.app[OAUTH]
    try:
        pairs = await form_pairs(request)
    except InvalidRequest:
        return await render(request, flow_error("The consent form was malformed"))
    fields = dict(pairs)
    visitor = await current_visitor(request)
    if visitor.user is None:
        return await render(request, flow_error("Your sign-in session has ended; start again from the application"))
    if not visitor.csrf_matches(fields.get("csrf_token")):
        return await render(request, flow_error("The form has expired; start again from the application", 403))
    async with request.app[POOL].acquire() as conn:
        try:
            authorization = await validate_authorization_request(conn, pairs, oauth.config)
        except AuthorizationPageError as error:
            return await render(request, flow_error(error.message))
        except RedirectError as error:
            return _to(error.location)
        if fields.get("decision") != "allow":
            return _to(denial(authorization, oauth.config.issuer))
        location = await approve(conn, oauth.hasher, authorization, visitor.user.user_id, oauth.config)
    return _to(location)


async def authorizations(request: web.Request) -> web.StreamResponse:
    """The apps the signed-in user authorized, each with a button that withdraws its access."""
    visitor = await current_visitor(request)
    if visitor.user is None:
        return redirect(login_location(AUTHORIZATIONS_PATH), headers=FLOW_HEADERS)
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_consents(conn, visitor.user.user_id)
    entries = [
        {"client_id": row["client_id"], "name": row["name"], "scopes": row["scopes"], "since": row["created_at"].date()}
        for row in rows
    ]
    context = {"title": "Applications you authorized", "authorizations": entries}
    return await render(request, Page("flow/authorizations.html", context, headers=FLOW_HEADERS))


async def revoke_authorization(request: web.Request) -> web.StreamResponse:
    oauth = request.app[OAUTH]
    try:
        fields = dict(await form_pairs(request))
    except InvalidRequest:
        return await render(request, flow_error("The form was malformed"))
    client_id = fields.get("client_id", "")[:MAX_CLIENT_ID_LENGTH]
    visitor = await current_visitor(request)
    if visitor.user is None or not visitor.csrf_matches(fields.get("csrf_token")):
        return await render(request, flow_error("The form has expired; reload the page", 403))
    async with request.app[POOL].acquire() as conn:
        if await db.has_consent(conn, visitor.user.user_id, client_id):
            await oauth.tokens.revoke_user_client(conn, visitor.user.user_id, client_id, "oauth_app_revoked")
    return redirect(AUTHORIZATIONS_PATH, headers=FLOW_HEADERS)
