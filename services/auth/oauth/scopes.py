"""Scopes and the rights they stand for.

The vocabulary (RFC 6749 section 3.3: space-delimited, case-sensitive strings):
- `read` (every data resource's read) and `write` (every data resource's create, update and delete);
- per-resource scopes `resource:action` over the data resources, the permission strings themselves (`products:read`);
- api.php app ids (api.php's scopes are app ids, docs/apiphp.md): `shop` stands for the store's catalogue and orders.
A token's rights are always an intersection: the user's permissions (or the rights granted to a client) narrowed
by what its scopes stand for. A scope never adds a right.
No scope stands for the management resources (users, API keys, apps): an app's token covers data, not credentials.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.auth.oauth.errors import InvalidScope
from services.auth.permissions import ACTIONS, DATA_RESOURCES

MAX_SCOPE_LENGTH = 2000
WRITE_ACTIONS = ("create", "update", "delete")
APP_SCOPES: dict[str, tuple[str, ...]] = {"shop": ("products", "categories", "customers", "orders")}

_SCOPE_RIGHTS: dict[str, frozenset[str]] = {
    "read": frozenset(f"{resource}:read" for resource in DATA_RESOURCES),
    "write": frozenset(f"{resource}:{action}" for resource in DATA_RESOURCES for action in WRITE_ACTIONS),
    **{
        f"{resource}:{action}": frozenset({f"{resource}:{action}"}) for resource in DATA_RESOURCES for action in ACTIONS
    },
    **{
        app: frozenset(f"{resource}:{action}" for resource in resources for action in ACTIONS)
        for app, resources in APP_SCOPES.items()
    },
}
KNOWN_SCOPES = frozenset(_SCOPE_RIGHTS)
DEFAULT_SCOPE = ("read",)


def parse_scope(value: str | None) -> tuple[str, ...] | None:
    """The scopes of a `scope` parameter in request order without duplicates, None when absent or empty."""
    if value is None or not value.strip():
        return None
    if len(value) > MAX_SCOPE_LENGTH:
        raise InvalidScope("The scope parameter is too long")
    scopes: list[str] = []
    for scope in value.split(" "):
        if not scope:
            continue
        if scope not in KNOWN_SCOPES:
            raise InvalidScope("The requested scope is unknown")
        if scope not in scopes:
            scopes.append(scope)
    return tuple(scopes)


def validate_scope_list(values: Iterable[str]) -> tuple[str, ...]:
    """Scopes as a list (management API); unknown ones are refused."""
    return parse_scope(" ".join(values)) or ()


def rights_of(scopes: Iterable[str]) -> frozenset[str]:
    rights: set[str] = set()
    for scope in scopes:
        rights |= _SCOPE_RIGHTS.get(scope, frozenset())
    return frozenset(rights)


def narrow(permissions: Iterable[str], scopes: Iterable[str]) -> frozenset[str]:
    """RFC 6749 section 3.3: a token may do what both its owner may do and its scopes allow."""
    return frozenset(permissions) & rights_of(scopes)


def describe(scope: str) -> str:
    """What the consent page says a scope allows."""
    if scope == "read":
        return "Read all data you can read"
    if scope == "write":
        return "Create, change and delete data you can change"
    if scope in APP_SCOPES:
        return f"Use the {scope} app's API on your behalf ({', '.join(APP_SCOPES[scope])})"
    resource, action = scope.split(":")
    verb = {"read": "Read", "create": "Create", "update": "Change", "delete": "Delete"}[action]
    return f"{verb} {resource.replace('_', ' ')}"
