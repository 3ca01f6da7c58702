"""The Audit Log page (admins, as GET /api/audit): who did what to which credential, when and from where; filtered by
the user it concerns, the user who acted, the action and a time range; newest first, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from services.auth import accounts, db, inputs
from services.auth.keys import CONTEXT, POOL
from services.auth.web.guards import panel_page
from services.auth.web.rendering import Page
from services.auth.web.visitor import SignedInUser
from shared.errors import BadRequest, Forbidden

PAGE_SIZE = 50
MAX_USERNAME_LENGTH = 64
MAX_EVENT_LENGTH = 64
# Offered in the action field's list; any other event name may still be typed.
KNOWN_EVENTS = (
    "api_key.created",
    "api_key.rotated",
    "api_key.revoked",
    "api_key.expired",
    "api_key.first_used",
    "api_token.enabled",
    "api_token.disabled",
    "api_token.regenerated",
    "api_token.viewed",
    "api_token.first_used",
    "developer.requested",
    "developer.enrolled",
    "developer.approved",
    "developer.declined",
    "password.changed",
    "password.reset",
    "permissions.changed",
    "plugin.registered",
    "plugin.secret_rotated",
    "plugin.revoked",
    "user.created",
    "user.updated",
    "verify.failed",
)


async def _user_id(request: web.Request, username: str, field: str) -> int | None:
    if not username:
        return None
    if len(username) > MAX_USERNAME_LENGTH:
        raise BadRequest(f"No user named {username[:MAX_USERNAME_LENGTH]!r}", target=field)
    async with request.app[POOL].acquire() as conn:
        found = await db.get_user_id_by_username(conn, username)
    if found is None:
        raise BadRequest(f"No user named {username!r}", target=field)
    return found


def _day(value: str, field: str, end: bool) -> datetime | None:
    """A date field: from the start of that day (UTC), or up to the end of it."""
    if not value:
        return None
    try:
        day = datetime.strptime(value[:10], "%Y-%m-%d").date() if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadRequest("Dates are YYYY-MM-DD", target=field)
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _filters(request: web.Request) -> dict[str, str]:
    query = request.query
    return {name: query.get(name, "").strip()[:100] for name in ("user", "actor", "event", "from", "to")}


@panel_page
async def audit_log(request: web.Request, user: SignedInUser) -> Page:
    if not user.principal.is_admin:
        raise Forbidden("Only an admin may read the audit log")
    filters = _filters(request)
    before = request.query.get("before")
    context: dict[str, Any] = {
        "title": "Audit Log",
        "filters": filters,
        "known_events": KNOWN_EVENTS,
        "entries": [],
        "next_url": None,
    }
    try:
        if len(filters["event"]) > MAX_EVENT_LENGTH:
            raise BadRequest("No such action", target="event")
        entries = await accounts.audit_entries(
            request.app[CONTEXT],
            user.principal,
            PAGE_SIZE + 1,
            inputs.integer(before, "before", 1, 2**62) if before else None,
            await _user_id(request, filters["user"], "user"),
            filters["event"] or None,
            actor_user_id=await _user_id(request, filters["actor"], "actor"),
            since=_day(filters["from"], "from", end=False),
            until=_day(filters["to"], "to", end=True),
        )
    except BadRequest as error:
        return Page("audit/list.html", {**context, "error": error.message}, 400)
    kept = {name: value for name, value in filters.items() if value}
    if len(entries) > PAGE_SIZE:
        entries = entries[:PAGE_SIZE]
        context["next_url"] = "/panel/audit?" + urlencode({**kept, "before": entries[-1]["id"]})
    context["entries"] = entries
    context["newest_url"] = "/panel/audit?" + urlencode(kept) if before else None
    return Page("audit/list.html", context)
