"""Authorized Apps: the applications the signed-in user allowed to act for them, and withdrawing that access (the
consent and every token the app holds for this user, announced to the gateways); and the user's api.php access
tokens (Webasyst-compatible), revoked through the same domain operation as POST /api/apiphp/tokens/{id}/revoke."""

from __future__ import annotations

import uuid

from aiohttp import web

from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.keys import CONTEXT, POOL
from services.auth.oauth import db
from services.auth.oauth.keys import OAUTH
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.errors import NotFound

MAX_CLIENT_ID_LENGTH = 64
# Revoked tokens are read too (the domain list holds them) but not shown: a page of them leaves room for live ones.
APIPHP_TOKENS_READ = 500
NOTICES = {
    "revoked": "The application's access was revoked.",
    "token-revoked": "The api.php access token was revoked; it no longer works.",
}


@panel_page
async def list_authorized_apps(request: web.Request, user: SignedInUser) -> Page:
    async with request.app[POOL].acquire() as conn:
        consents = await db.list_consents(conn, user.user_id)
        tokens = await request.app[APIPHP_TOKENS].list_tokens(conn, user.user_id, APIPHP_TOKENS_READ, 0)
    context = {
        "title": "Authorized Apps",
        "consents": consents,
        "tokens": [token for token in tokens if token["revoked_at"] is None],
        "truncated": len(tokens) == APIPHP_TOKENS_READ,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("authorized/list.html", context)


@panel_form
async def revoke_authorized_app(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    client_id = request.match_info["client_id"]
    async with request.app[POOL].acquire() as conn:
        if len(client_id) > MAX_CLIENT_ID_LENGTH or not await db.has_consent(conn, user.user_id, client_id):
            raise NotFound("No such authorized application")
        await request.app[OAUTH].tokens.revoke_user_client(conn, user.user_id, client_id, "oauth_app_revoked")
    return redirect("/panel/authorized-apps?done=revoked")


@panel_form
async def revoke_apiphp_token(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    """Only the signed-in user's own token: anyone else's id is "not found", as in the JSON API."""
    try:
        token_id = uuid.UUID(request.match_info["token_id"])
    except ValueError:
        raise NotFound("No such api.php access token") from None
    async with request.app[POOL].acquire() as conn:
        found = await request.app[APIPHP_TOKENS].revoke(conn, request.app[CONTEXT].publisher, token_id, user.user_id)
    if not found:
        raise NotFound("No such api.php access token")
    return redirect("/panel/authorized-apps?done=token-revoked")
