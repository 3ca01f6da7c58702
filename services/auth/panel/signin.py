"""Who is using the panel: the OAuth server's sign-in session, turned into a principal with the user's current rights.

The rights are read from the database on every request, so a permission removed, or a user deactivated, takes
effect on the next page (the session store already drops deactivated users).
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from services.auth import db
from services.auth.keys import POOL
from services.auth.oauth.keys import OAUTH
from services.auth.oauth.web_forms import session_id_of
from services.auth.origin import client_address, forwarded_client
from services.auth.permissions import effective_permissions
from shared.principal import Principal

LOGIN_PATH = "/auth/login"
PANEL_CREDENTIAL_KIND = "panel_session"


@dataclass(frozen=True)
class PanelUser:
    principal: Principal
    csrf_token: str

    def __repr__(self) -> str:
        return f"PanelUser(user_id={self.principal.user_id!r})"

    @property
    def user_id(self) -> int:
        assert self.principal.user_id is not None
        return self.principal.user_id

    def can(self, resource: str, action: str) -> bool:
        return self.principal.can(resource, action)

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented.encode(), self.csrf_token.encode())


class SignInRequired(Exception):
    """No signed-in session: the visitor goes to the login page, which may bring them back."""

    def __init__(self, return_path: str) -> None:
        super().__init__("sign-in required")
        self.location = f"{LOGIN_PATH}?{urlencode({'next': return_path})}"


async def signed_in_user(request: web.Request) -> PanelUser:
    async with request.app[POOL].acquire() as conn:
        session = await request.app[OAUTH].sessions.load(conn, session_id_of(request))
        row = await db.get_user(conn, session.user_id) if session is not None and session.user_id is not None else None
    if session is None or row is None or not row["is_active"]:
        raise SignInRequired(request.rel_url.path_qs if request.method == "GET" else "/panel/")
    _remember_client_address(request)
    principal = Principal(
        user_id=row["id"],
        username=row["username"],
        is_admin=row["is_admin"],
        permissions=effective_permissions(row["is_admin"], row["permissions"], None),
        credential_kind=PANEL_CREDENTIAL_KIND,
        # Never the session id: the principal's fields end up in the audit log.
        credential_id=f"{PANEL_CREDENTIAL_KIND}:{row['id']}",
    )
    return PanelUser(principal, session.csrf_token)


def _remember_client_address(request: web.Request) -> None:
    """For the audit log. X-Forwarded-For is believed only from a proxy on this host (the gateway in a local
    deployment); from anywhere else the peer address is what we know."""
    peer = request.remote
    try:
        from_loopback = peer is not None and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        from_loopback = False
    forwarded = forwarded_client(request.headers.get("X-Forwarded-For")) if from_loopback else None
    client_address.set(forwarded or peer)
