"""Permissions are "resource:action" strings over fixed lists; admins hold every one of them."""

from __future__ import annotations

from collections.abc import Iterable

from shared.errors import BadRequest

RESOURCES = (
    "products",
    "categories",
    "customers",
    "orders",
    "imports",
    "mappers",
    "webhooks",
    "users",
    "api_keys",
    "apps",
    "plugins",
)
ACTIONS = ("read", "create", "update", "delete")
ALL_PERMISSIONS = frozenset(f"{resource}:{action}" for resource in RESOURCES for action in ACTIONS)
# Who may do what and with which credentials: a third-party app's token never reaches these, whatever its scopes.
MANAGEMENT_RESOURCES = ("users", "api_keys", "apps", "plugins")
DATA_RESOURCES = tuple(resource for resource in RESOURCES if resource not in MANAGEMENT_RESOURCES)
MANAGEMENT_PERMISSIONS = frozenset(f"{resource}:{action}" for resource in MANAGEMENT_RESOURCES for action in ACTIONS)
MAX_PERMISSIONS_IN_REQUEST = len(ALL_PERMISSIONS)


def parse_permissions(value: object, target: str) -> frozenset[str]:
    """A JSON list of "resource:action" strings, each checked against the fixed lists."""
    if not isinstance(value, list):
        raise BadRequest('Expected a list of "resource:action" strings', target=target)
    if len(value) > MAX_PERMISSIONS_IN_REQUEST:
        raise BadRequest(f"At most {MAX_PERMISSIONS_IN_REQUEST} permissions", target=target)
    found: set[str] = set()
    for item in value:
        if not isinstance(item, str) or len(item) > 40 or item.count(":") != 1:
            raise BadRequest('Each permission is a "resource:action" string', target=target)
        resource, action = item.split(":")
        if resource not in RESOURCES:
            raise BadRequest(f"Unknown resource {resource!r}; expected one of {', '.join(RESOURCES)}", target=target)
        if action not in ACTIONS:
            raise BadRequest(f"Unknown action {action!r}; expected one of {', '.join(ACTIONS)}", target=target)
        found.add(item)
    return frozenset(found)


def effective_permissions(is_admin: bool, granted: Iterable[str], scope: Iterable[str] | None) -> frozenset[str]:
    """What a credential may do: the owner's rights (all for an admin), narrowed by the credential's scope."""
    rights = ALL_PERMISSIONS if is_admin else frozenset(granted)
    return rights if scope is None else rights & frozenset(scope)


def split(permission: str) -> tuple[str, str]:
    resource, action = permission.split(":")
    return resource, action
