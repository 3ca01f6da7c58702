"""The Webhooks pages: subscriptions (own; every user's for an admin), create and edit, the signing secret shown
once, delete, rotate the secret, the delivery log with a status filter, and re-sending. The webhooks service owns
subscriptions; these pages call its API with the signed-in user's principal (webhooks_client.py), so its rules
(webhooks:read, create, update, delete; someone else's subscription is "not found") apply unchanged."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from services.auth.web.webhooks_client import WEBHOOKS
from shared.errors import BadRequest, NotFound
from shared.platform_events import EVENT_TYPES

STATUSES = ("pending", "succeeded", "failed", "refused")
SUBSCRIPTIONS_SHOWN = 200
DELIVERIES_SHOWN = 100
MAX_ID_LENGTH = 64
NOTICES = {
    "deleted": "The webhook subscription was deleted; nothing more is delivered to it.",
    "saved": "The webhook subscription was saved.",
    "resent": "The delivery was queued again, with the same webhook-id.",
}
NEW_SUBSCRIPTION: dict[str, Any] = {"url": "", "events": [], "description": "", "active": True}


def _id(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if len(value) > MAX_ID_LENGTH or not all(char.isalnum() or char in "-_" for char in value):
        raise NotFound("No such webhook subscription")
    return quote(value)


def _fields(form: Form) -> dict[str, Any]:
    return {
        "url": (form.get("url") or "").strip(),
        "events": form.all("events"),
        "description": (form.get("description") or "").strip(),
        "active": form.ticked("active"),
    }


def _form_page(
    title: str, values: dict[str, Any], action: str, submit: str, error: str | None = None, status: int = 200
) -> Page:
    context = {
        "title": title,
        "values": values,
        "action": action,
        "submit": submit,
        "event_types": EVENT_TYPES,
        "error": error,
    }
    return Page("webhooks/form.html", context, status)


def _secret_page(title: str, subscription: dict[str, Any], secret: str, heading: str, back: str) -> Page:
    # Shown in this answer only; app.js replaces the history entry, so going back or reloading shows no secret.
    context = {
        "title": title,
        "subscription": subscription,
        "secret": secret,
        "heading": heading,
        "replace_history_with": back,
    }
    return Page("webhooks/secret.html", context)


@panel_page
async def list_webhooks(request: web.Request, user: SignedInUser) -> Page:
    answer = await request.app[WEBHOOKS].call(user.principal, "GET", f"/api/webhooks?limit={SUBSCRIPTIONS_SHOWN}")
    context = {
        "title": "Webhooks",
        "subscriptions": answer["value"],
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("webhooks/list.html", context)


@panel_page
async def new_webhook(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("webhooks", "create")
    return _form_page("Add Webhook", NEW_SUBSCRIPTION, "/panel/webhooks", "Add Webhook")


@panel_form
async def create_webhook(request: web.Request, user: SignedInUser, form: Form) -> Page:
    fields = _fields(form)
    try:
        created = await request.app[WEBHOOKS].call(user.principal, "POST", "/api/webhooks", fields)
    except BadRequest as error:
        return _form_page("Add Webhook", fields, "/panel/webhooks", "Add Webhook", error.message, 400)
    page = _secret_page(
        "Webhook created", created, created["secret"], "The webhook subscription was created.", "/panel/webhooks"
    )
    return Page(page.template, page.context, 201)


@panel_page
async def edit_webhook(request: web.Request, user: SignedInUser) -> Page:
    subscription = await request.app[WEBHOOKS].call(user.principal, "GET", f"/api/webhooks/{_id(request)}")
    return _edit_page(subscription, NOTICES.get(request.query.get("done", "")))


def _edit_page(subscription: dict[str, Any], notice: str | None = None, error: str | None = None) -> Page:
    base = f"/panel/webhooks/{quote(subscription['id'])}"
    page = _form_page("Edit Webhook", subscription, base, "Save", error, 400 if error else 200)
    return Page("webhooks/edit.html", {**page.context, "base": base, "notice": notice}, page.status)


@panel_form
async def save_webhook(request: web.Request, user: SignedInUser, form: Form) -> Page | web.StreamResponse:
    subscription_id = _id(request)
    fields = _fields(form)
    client = request.app[WEBHOOKS]
    try:
        await client.call(user.principal, "PATCH", f"/api/webhooks/{subscription_id}", fields)
    except BadRequest as error:
        current = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}")
        return _edit_page({**current, **fields}, error=error.message)
    return redirect(f"/panel/webhooks/{subscription_id}?done=saved")


@panel_form
async def delete_webhook(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    await request.app[WEBHOOKS].call(user.principal, "DELETE", f"/api/webhooks/{_id(request)}")
    return redirect("/panel/webhooks?done=deleted")


@panel_form
async def rotate_secret(request: web.Request, user: SignedInUser, form: Form) -> Page:
    subscription_id = _id(request)
    client = request.app[WEBHOOKS]
    rotated = await client.call(user.principal, "POST", f"/api/webhooks/{subscription_id}/rotate-secret")
    subscription = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}")
    back = f"/panel/webhooks/{subscription_id}"
    return _secret_page("Secret rotated", subscription, rotated["secret"], "The signing secret was replaced.", back)


@panel_page
async def deliveries(request: web.Request, user: SignedInUser) -> Page:
    subscription_id = _id(request)
    status = request.query.get("status", "")
    if status not in ("", *STATUSES):
        raise BadRequest("Unknown delivery status", target="status")
    client = request.app[WEBHOOKS]
    subscription = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}")
    query = f"?limit={DELIVERIES_SHOWN}" + (f"&status={status}" if status else "")
    answer = await client.call(user.principal, "GET", f"/api/webhooks/{subscription_id}/deliveries{query}")
    context = {
        "title": "Webhook deliveries",
        "subscription": subscription,
        "base": f"/panel/webhooks/{subscription_id}",
        "deliveries": answer["value"],
        "statuses": STATUSES,
        "chosen": status,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("webhooks/deliveries.html", context)


@panel_form
async def resend(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    subscription_id = _id(request)
    delivery_id = _id(request, "delivery_id")
    path = f"/api/webhooks/{subscription_id}/deliveries/{delivery_id}/resend"
    await request.app[WEBHOOKS].call(user.principal, "POST", path)
    return redirect(f"/panel/webhooks/{subscription_id}/deliveries?done=resent")
