"""Authorized Apps: the applications the signed-in user allowed to act for them, and withdrawing that access (the
consent and every token the app holds for this user, announced to the gateways)."""

from __future__ import annotations

from html import escape

from aiohttp import web

from services.auth.keys import POOL
from services.auth.oauth import db
from services.auth.oauth.keys import OAUTH
from services.auth.panel import markup
from services.auth.panel.forms import Form
from services.auth.panel.guards import panel_form, panel_page
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser
from shared.errors import NotFound

MAX_CLIENT_ID_LENGTH = 64


@panel_page
async def list_authorized_apps(request: web.Request, user: PanelUser) -> web.StreamResponse:
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_consents(conn, user.user_id)
    table = markup.table(
        ["Application", "Allowed to", "Authorized", ""],
        [
            [
                escape(row["name"]),
                escape(" ".join(row["scopes"])),
                markup.moment(row["created_at"].isoformat()),
                markup.post_button(
                    f"/panel/authorized-apps/{row['client_id']}/revoke", "Revoke access", user, "danger"
                ),
            ]
            for row in rows
        ],
        "You have not authorized any application.",
    )
    notice = "The application's access was revoked." if request.query.get("done") == "revoked" else None
    return html(markup.page("Authorized Apps", table, user, notice=notice))


@panel_form
async def revoke_authorized_app(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    client_id = request.match_info["client_id"]
    async with request.app[POOL].acquire() as conn:
        if len(client_id) > MAX_CLIENT_ID_LENGTH or not await db.has_consent(conn, user.user_id, client_id):
            raise NotFound("No such authorized application")
        await request.app[OAUTH].tokens.revoke_user_client(conn, user.user_id, client_id, "oauth_app_revoked")
    return redirect("/panel/authorized-apps?done=revoked")
