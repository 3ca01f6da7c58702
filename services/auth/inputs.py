"""Reading bounded, validated values out of JSON bodies and query strings; each failure is a clear 400."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.errors import BadRequest, NotFound

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
MAX_KEY_NAME_LENGTH = 100
MAX_EXPIRY = timedelta(days=3650)


def text(body: dict[str, Any], name: str, maximum: int, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} must be a non-empty string", target=name)
    value = value.strip()
    if len(value) > maximum:
        raise BadRequest(f"{name} is longer than {maximum} characters", target=name)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise BadRequest(f"{name} contains control characters", target=name)
    return value


def username(body: dict[str, Any]) -> str:
    value = text(body, "username", 64)
    assert value is not None
    if not USERNAME_PATTERN.match(value):
        raise BadRequest(
            "username must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
            target="username",
        )
    return value


def email(body: dict[str, Any]) -> str | None:
    value = text(body, "email", 254, required=False)
    if value is not None and not EMAIL_PATTERN.match(value):
        raise BadRequest("email must look like name@example.com", target="email")
    return value


def boolean(body: dict[str, Any], name: str, default: bool | None = None) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false", target=name)
    return value


def integer(value: Any, name: str, minimum: int, maximum: int) -> int:
    if isinstance(value, str):
        if not value.isdigit() or len(value) > 19:
            raise BadRequest(f"{name} must be a whole number", target=name)
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be a whole number", target=name)
    if not minimum <= value <= maximum:
        raise BadRequest(f"{name} must be between {minimum} and {maximum}", target=name)
    return value


def path_id(raw: str, name: str = "id") -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"No such {name}")
    return int(raw)


def path_uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"No such {what}") from None


def expiry(value: Any, name: str = "expires_at", now: datetime | None = None) -> datetime | None:
    """An ISO 8601 date (midnight UTC) or date-time (UTC when no offset) in the future, at most ten years ahead."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time", target=name)
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time", target=name) from None
    current = now or datetime.now(UTC)
    if moment <= current:
        raise BadRequest(f"{name} is in the past", target=name)
    if moment > current + MAX_EXPIRY:
        raise BadRequest(f"{name} is more than ten years ahead", target=name)
    return moment


def moment(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 date (midnight UTC) or date-time (UTC when no offset), for filters; None when absent."""
    if value is None or value == "":
        return None
    if len(value) > 40:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time", target=name)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time", target=name) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
