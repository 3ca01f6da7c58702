"""Who may manage which subscriptions, what a subscription may say, and how it is shown.

Subscriptions belong to users: a user manages their own, an admin everyone's. A credential acting for an app (an
OAuth access token or an api.php token) manages them only when its scopes name the webhooks action itself
(`webhooks:read`, `webhooks:create`, ...): the broad `read`/`write` scopes are not enough, since a subscription sends
data to a URL of the app's choosing long after the token has expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from services.webhooks.targets import InvalidTarget, validate_url
from shared.errors import BadRequest, Forbidden, NotFound
from shared.platform_events import EVENT_TYPES
from shared.principal import Principal

MAX_EVENTS = 32
MAX_DESCRIPTION = 500
CREATE_FIELDS = frozenset({"url", "events", "description", "active"})


def authorize(principal: Principal, action: str) -> int:
    """The acting user's id, once the credential may do `webhooks:<action>`."""
    if principal.is_service or principal.user_id is None:
        raise Forbidden("Webhook subscriptions belong to users; this credential acts for no user")
    principal.require("webhooks", action)
    if principal.client_id is not None and f"webhooks:{action}" not in principal.scopes:
        raise Forbidden(f"An app manages webhooks only with the scope webhooks:{action}")
    return principal.user_id


def ensure_visible(principal: Principal, row: asyncpg.Record | None) -> asyncpg.Record:
    # Someone else's subscription answers like a missing one: its existence is not theirs to learn.
    if row is None or (not principal.is_admin and row["owner_user_id"] != principal.user_id):
        raise NotFound("No such webhook subscription")
    return row


def parse_fields(body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0][:64]!r}", target=unknown[0][:64])
    fields: dict[str, Any] = {}
    if "url" in body or creating:
        try:
            fields["url"] = validate_url(body.get("url"))  # type: ignore[arg-type]
        except InvalidTarget as error:
            raise BadRequest(str(error), target="url") from None
    if "events" in body or creating:
        fields["events"] = _events(body.get("events"))
    if "description" in body:
        description = body["description"]
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            message = f"description must be a string of at most {MAX_DESCRIPTION} characters"
            raise BadRequest(message, target="description")
        fields["description"] = description
    elif creating:
        fields["description"] = ""
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise BadRequest("active must be true or false", target="active")
        fields["active"] = body["active"]
    elif creating:
        fields["active"] = True
    if not fields:
        raise BadRequest("Say what to change: url, events, description or active")
    return fields


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EVENTS:
        raise BadRequest(f"events must be a list of 1 to {MAX_EVENTS} event types", target="events")
    chosen: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in EVENT_TYPES:
            shown = item[:64] if isinstance(item, str) else type(item).__name__
            raise BadRequest(f"Unknown event type {shown!r}; known: {', '.join(EVENT_TYPES)}", target="events")
        if item not in chosen:
            chosen.append(item)
    return chosen


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def subscription_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "events": list(row["events"]),
        "description": row["description"],
        "active": row["active"],
        "disabledReason": row["disabled_reason"],
        "disabledAt": _iso(row["disabled_at"]),
        "consecutiveFailures": row["consecutive_failures"],
        "owner": {"userId": row["owner_user_id"], "username": row["owner_name"]},
        "createdByClient": row["created_by_client"],
        "createdAt": _iso(row["created_at"]),
        "updatedAt": _iso(row["updated_at"]),
    }


def attempt_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "attempt": row["attempt"],
        "at": _iso(row["attempted_at"]),
        "outcome": row["outcome"],
        "statusCode": row["status_code"],
        "durationMs": row["duration_ms"],
        "error": row["error"],
        "responseExcerpt": row["response_excerpt"],
    }


def delivery_view(row: asyncpg.Record, attempts: list[asyncpg.Record]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "eventId": row["event_id"],
        "eventType": row["type"],
        "status": row["status"],
        "attemptCount": row["attempts"],
        "nextAttemptAt": _iso(row["next_attempt_at"]) if row["status"] == "pending" else None,
        "lastError": row["last_error"],
        "createdAt": _iso(row["created_at"]),
        "updatedAt": _iso(row["updated_at"]),
        "attempts": [attempt_view(attempt) for attempt in attempts],
    }
