"""The Developers page ("Create a Developer Account"): a signed-in user becomes a developer, at once or
after an admin's approval as the operator set (DEVELOPER_SIGNUP), then creates apps; admins decide the requests."""

from __future__ import annotations

from aiohttp import web

from services.auth import developers, inputs
from services.auth.keys import CONFIG, CONTEXT
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser

NOTICES = {
    "granted": "You are now a developer: create your first app.",
    "pending": "Your request was sent; an admin will approve it.",
    "already": "You are already a developer.",
    "approved": "The request was approved; the user is a developer now.",
    "declined": "The request was declined.",
}


@panel_page
async def developers_page(request: web.Request, user: SignedInUser) -> Page:
    ctx = request.app[CONTEXT]
    status = await developers.status_of(ctx, user.principal)
    context = {
        "title": "Developers",
        "status": status,
        "needs_approval": request.app[CONFIG].developers_need_approval,
        "requests": await developers.pending_requests(ctx, user.principal) if user.principal.is_admin else [],
        "max_reason_length": developers.MAX_REASON_LENGTH,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("developers/page.html", context)


@panel_form
async def request_account(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    reason = (form.get("reason") or "").strip()
    outcome = await developers.request_account(
        request.app[CONTEXT], user.principal, reason, request.app[CONFIG].developers_need_approval
    )
    if outcome == "granted":
        return redirect("/panel/apps/new")
    return redirect(f"/panel/developers?done={outcome}")


async def _decide(request: web.Request, user: SignedInUser, approve: bool) -> web.StreamResponse:
    user_id = inputs.path_id(request.match_info["user_id"], "user")
    await developers.decide(request.app[CONTEXT], user.principal, user_id, approve)
    return redirect(f"/panel/developers?done={'approved' if approve else 'declined'}")


@panel_form
async def approve(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    return await _decide(request, user, True)


@panel_form
async def decline(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    return await _decide(request, user, False)
