"""Who is looking at a page: the sign-in session (with its CSRF token) and, once signed in, the user's principal with
their current rights."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.auth.oauth.sessions import Session
from shared.principal import Principal

WEB_CREDENTIAL_KIND = "panel_session"


@dataclass(frozen=True)
class SignedInUser:
    principal: Principal

    def __repr__(self) -> str:
        return f"SignedInUser(user_id={self.principal.user_id!r})"

    @property
    def user_id(self) -> int:
        assert self.principal.user_id is not None
        return self.principal.user_id

    @property
    def username(self) -> str:
        return self.principal.username or ""

    def can(self, resource: str, action: str) -> bool:
        return self.principal.can(resource, action)


@dataclass(frozen=True)
class Visitor:
    """session is None before the first page that starts one (the login page); user is None until signed in."""

    session: Session | None
    user: SignedInUser | None

    def __repr__(self) -> str:
        return f"Visitor(user={self.user!r})"

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token if self.session is not None else ""

    def csrf_matches(self, presented: str | None) -> bool:
        return (
            self.session is not None
            and presented is not None
            and secrets.compare_digest(presented.encode(), self.session.csrf_token.encode())
        )
