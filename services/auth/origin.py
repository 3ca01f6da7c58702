"""Who did it and from where, for the audit log.

The client's address reaches the auth service in X-Forwarded-For, which only the gateway can set on a request
that carries its signed principal; it is held per request (a context variable, so concurrent requests never mix).
"""

from __future__ import annotations

import contextvars
import ipaddress
from typing import Any

from shared.principal import Principal

client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_address", default=None)


def forwarded_client(header: str | None) -> str | None:
    """The address the gateway saw: the last X-Forwarded-For hop (earlier ones are the client's own claims)."""
    if not header or len(header) > 1024:
        return None
    try:
        return str(ipaddress.ip_address(header.split(",")[-1].strip()))
    except ValueError:
        return None


def audit_actor(actor: Principal) -> dict[str, Any]:
    return {"actor_user_id": actor.user_id, "actor": actor.username, "client_ip": client_address.get()}
