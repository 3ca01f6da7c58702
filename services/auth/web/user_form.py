"""The user Add/Edit screen's state: what the form shows, read from the database or from a post."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.auth import inputs
from services.auth.permissions import parse_permissions
from services.auth.web.forms import Form
from shared.errors import BadRequest

MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True)
class UserForm:
    user_id: int
    username: str
    email: str
    is_active: bool
    is_admin: bool
    permissions: frozenset[str]
    api_enabled: bool
    # The current token, or after "Regenerate API Token" the pending one; None when there is none to show.
    token: str | None = None
    pending_id: str | None = None

    def __repr__(self) -> str:
        return f"UserForm(user_id={self.user_id!r})"

    @classmethod
    def from_user(cls, user: dict[str, Any], token: str | None) -> UserForm:
        return cls(
            user_id=user["id"],
            username=user["username"],
            email=user["email"] or "",
            is_active=user["is_active"],
            is_admin=user["is_admin"],
            permissions=frozenset(user["permissions"]),
            api_enabled=user["api_access_enabled"],
            token=token,
        )

    @classmethod
    def from_post(cls, form: Form, user: dict[str, Any], may_set_admin: bool) -> UserForm:
        """The submitted values (kept when the page is shown again); the admin flag only from an admin."""
        return cls(
            user_id=user["id"],
            username=user["username"],
            email=(form.get("email") or "").strip()[:MAX_EMAIL_LENGTH],
            is_active=form.ticked("is_active"),
            is_admin=form.ticked("is_admin") if may_set_admin else user["is_admin"],
            permissions=frozenset(form.all("permission")),
            api_enabled=form.ticked("api_enabled"),
            pending_id=form.get("pending_id") or None,
        )


@dataclass(frozen=True)
class UserChanges:
    """A Save, validated before anything is applied."""

    email: str | None
    is_active: bool
    is_admin: bool
    permissions: frozenset[str]
    api_enabled: bool
    pending_id: uuid.UUID | None


def parse_changes(state: UserForm) -> UserChanges:
    email = inputs.email({"email": state.email or None})
    permissions = parse_permissions(sorted(state.permissions), "permission")
    pending_id = None
    if state.pending_id is not None:
        try:
            pending_id = uuid.UUID(state.pending_id)
        except ValueError:
            raise BadRequest("The regenerated token is not known; regenerate it again", target="pending_id") from None
    return UserChanges(email, state.is_active, state.is_admin, permissions, state.api_enabled, pending_id)


@dataclass(frozen=True)
class NewUser:
    """The Add screen's values (the password is never put back into a page)."""

    username: str
    email: str
    is_admin: bool
    permissions: frozenset[str]

    @classmethod
    def from_post(cls, form: Form, may_set_admin: bool) -> NewUser:
        return cls(
            username=(form.get("username") or "").strip()[:64],
            email=(form.get("email") or "").strip()[:MAX_EMAIL_LENGTH],
            is_admin=may_set_admin and form.ticked("is_admin"),
            permissions=frozenset(form.all("permission")),
        )
