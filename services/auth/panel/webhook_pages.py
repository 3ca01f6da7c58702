"""The Webhooks pages: subscriptions (own; every user's for an admin), create and edit, the secret shown once,
delete, rotate the secret, the delivery log and re-sending. The webhooks service owns subscriptions; these pages
call its API with the signed-in user's principal (services/auth/panel/webhooks_client.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from services.auth.panel import markup, webhook_views
from services.auth.panel.forms import Form
from services.auth.panel.guards import panel_form, panel_page
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser
from services.auth.panel.webhooks_client import WEBHOOKS
from shared.errors import BadRequest, NotFound

NOTICES = {
    "deleted": "The webhook subscription was deleted; nothing more is delivered to it.",
    "saved": "The webhook subscription was saved.",
    "resent": "The delivery was queued again, with the same webhook-id.",
}


def _id(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if len(value) > 64 or not all(char.isalnum() or char in "-_" for char in value):
        raise NotFound("No such webhook subscription")
    return quote(value)


def _fields(form: Form) -> dict[str, Any]:
    return {
        "url": (form.get("url") or "").strip(),
        "events": form.all("events"),
        "description": (form.get("description") or "").strip(),
        "active": form.ticked("active"),
    }


@panel_page
async def list_webhooks(request: web.Request, user: PanelUser) -> web.StreamResponse:
    answer = await request.app[WEBHOOKS].call(user.principal, "GET", "/api/webhooks?limit=200")
    notice = NOTICES.get(request.query.get("done", ""))
    content = webhook_views.subscription_list(user, answer["value"])
    return html(markup.page("Webhooks", content, user, notice=notice))


@panel_page
async def new_webhook(request: web.Request, user: PanelUser) -> web.StreamResponse:
    user.principal.require("webhooks", "create")
    form = webhook_views.subscription_form(user, {}, "/panel/webhooks", "Add Webhook")
    return html(markup.page("Add Webhook", form, user))


@panel_form
async def create_webhook(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    fields = _fields(form)
    try:
        created = await request.app[WEBHOOKS].call(user.principal, "POST", "/api/webhooks", fields)
    except BadRequest as error:
        again = webhook_views.subscription_form(user, fields, "/panel/webhooks", "Add Webhook")
        return html(markup.page("Add Webhook", again, user, error=error.message), status=400)
    content = webhook_views.secret_shown(created, created["secret"], "The webhook subscription was created.")
    # Shown in this answer only; the history entry becomes the list, so a reload shows no secret.
    return html(markup.page("Webhook created", content, user, replace_history_with="/panel/webhooks"), status=201)


@panel_page
async def edit_webhook(request: web.Request, user: PanelUser) -> web.StreamResponse:
    subscription = await request.app[WEBHOOKS].call(user.principal, "GET", f"/api/webhooks/{_id(request)}")
    notice = NOTICES.get(request.query.get("done", ""))
    return html(markup.page("Edit Webhook", webhook_views.edit_page(user, subscription), user, notice=notice))


@panel_form
async def save_webhook(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    subscription_id = _id(request)
    fields = _fields(form)
    client = request.app[WEBHOOKS]
    try:
        await client.call(user.principal, "PATCH", f"/api/webhooks/{subscription_id}", fields)
    except BadRequest as error:
        current = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}")
        page = webhook_views.edit_page(user, {**current, **fields})
        return html(markup.page("Edit Webhook", page, user, error=error.message), status=400)
    return redirect(f"/panel/webhooks/{subscription_id}?done=saved")


@panel_form
async def delete_webhook(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    await request.app[WEBHOOKS].call(user.principal, "DELETE", f"/api/webhooks/{_id(request)}")
    return redirect("/panel/webhooks?done=deleted")


@panel_form
async def rotate_secret(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    subscription_id = _id(request)
    client = request.app[WEBHOOKS]
    rotated = await client.call(user.principal, "POST", f"/api/webhooks/{subscription_id}/rotate-secret")
    subscription = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}")
    content = webhook_views.secret_shown(subscription, rotated["secret"], "The signing secret was replaced.")
    page = markup.page("Secret rotated", content, user, replace_history_with=f"/panel/webhooks/{subscription_id}")
    return html(page)


@panel_page
async def deliveries(request: web.Request, user: PanelUser) -> web.StreamResponse:
    subscription_id = _id(request)
    status = request.query.get("status", "")
    if status not in ("", *webhook_views.STATUSES):
        raise BadRequest("Unknown delivery status")
    client = request.app[WEBHOOKS]
    subscription = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}")
    query = f"?limit=100&status={status}" if status else "?limit=100"
    answer = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}/deliveries{query}")
    notice = NOTICES.get(request.query.get("done", ""))
    content = webhook_views.delivery_log(user, subscription, answer["value"], status)
    return html(markup.page("Webhook deliveries", content, user, notice=notice))


@panel_form
async def resend(request: web.Request, user: PanelUser, form: Form) -> web.StreamResponse:
    subscription_id = _id(request)
    delivery_id = _id(request, "delivery_id")
    path = f"/api/webhooks/{subscription_id}/deliveries/{delivery_id}/resend"
    await request.app[WEBHOOKS].call(user.principal, "POST", path)
    return redirect(f"/panel/webhooks/{subscription_id}/deliveries?done=resent")
