"""The access request of GET /api.php/auth (docs/apiphp.md), checked the way Webasyst's webasystApiAuthAction checks it,
and the redirects that answer it.

A request that cannot be answered safely (a missing or malformed parameter, no app the user may grant) is shown as
an error page and never redirected, so /api.php/auth is no open redirector. client_id is chosen by the developer
(Webasyst leaves app ids to the developer's discretion), so it is checked for shape only.

Scope, as Webasyst decides it: the requested app ids are filtered to the apps that exist here and that the user has
rights in; unknown app ids are silently dropped (a client written for photos,shop still gets shop), and only when
nothing is left is the request refused with invalid_request "invalid scope".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from services.auth.oauth.scopes import APP_SCOPES

RESPONSE_TYPES = ("code", "token")
MAX_CLIENT_ID_LENGTH = 100
MAX_CLIENT_NAME_LENGTH = 100
MAX_SCOPE_LENGTH = 1000
MAX_REDIRECT_URI_LENGTH = 2000
MAX_STATE_LENGTH = 500
PARAMETERS = ("response_type", "client_id", "client_name", "scope", "redirect_uri", "state")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_APP_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*$")
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})


class AccessRequestError(Exception):
    """Shown on an error page (never redirected): error code and description, as Webasyst's ApiError page."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _invalid(description: str) -> AccessRequestError:
    return AccessRequestError("invalid_request", description)


@dataclass(frozen=True)
class AccessRequest:
    response_type: str
    client_id: str
    client_name: str
    requested_apps: tuple[str, ...]
    redirect_uri: str  # "" when absent (response_type=code only: the code is then shown on the page)
    state: str  # "" when absent; passed back unchanged when given

    @property
    def recipient(self) -> str | None:
        """Who will receive the code or token: the redirect URI's host (a web app), its scheme (an app on the user's
        device), or None when the code is shown on the page. client_name and client_id are the caller's own claims;
        this is the one thing the user can check."""
        if not self.redirect_uri:
            return None
        parts = urlsplit(self.redirect_uri)
        if parts.scheme.lower() in ("http", "https"):
            return parts.hostname
        return f"{parts.scheme}:"

    def as_params(self) -> dict[str, str]:
        params = {
            "response_type": self.response_type,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "scope": ",".join(self.requested_apps),
        }
        if self.redirect_uri:
            params["redirect_uri"] = self.redirect_uri
        if self.state:
            params["state"] = self.state
        return params


def _has_control_characters(value: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in value)


def _single_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in PARAMETERS:
            continue
        if name in values:
            raise _invalid(f"Repeated parameter: {name}")
        values[name] = value
    return values


def check_redirect_uri(value: str) -> str:
    """An absolute http(s) URI, or a private-use scheme with a dot (RFC 8252 section 7.1) for client apps; no
    fragment (the token travels in it) and never a scheme that runs code in the browser."""
    if len(value) > MAX_REDIRECT_URI_LENGTH or _has_control_characters(value) or " " in value:
        raise _invalid("Invalid redirect_uri")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise _invalid("Invalid redirect_uri") from None
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.match(scheme) or scheme in _UNSAFE_SCHEMES or parts.fragment or "#" in value:
        raise _invalid("Invalid redirect_uri")
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise _invalid("Invalid redirect_uri")
    elif "." not in scheme:
        raise _invalid("Invalid redirect_uri: use http(s) or a reverse-domain scheme such as com.example.app")
    return value


def parse_access_request(pairs: Iterable[tuple[str, str]]) -> AccessRequest:
    values = _single_values(pairs)
    response_type = values.get("response_type", "")
    required = ["client_id", "client_name", "response_type", "scope"]
    if response_type == "token":
        required.append("redirect_uri")
    for name in required:
        if not values.get(name):
            raise _invalid(f"Required parameter is missing: {name}")
    if response_type not in RESPONSE_TYPES:
        raise _invalid("Invalid response_type: use code or token")
    client_id = values["client_id"]
    if len(client_id) > MAX_CLIENT_ID_LENGTH or not _CLIENT_ID.match(client_id):
        raise _invalid(
            f"Invalid client_id: up to {MAX_CLIENT_ID_LENGTH} letters, digits, dots, hyphens and underscores"
        )
    client_name = values["client_name"].strip()
    if not client_name or len(client_name) > MAX_CLIENT_NAME_LENGTH or _has_control_characters(client_name):
        raise _invalid(f"Invalid client_name: 1 to {MAX_CLIENT_NAME_LENGTH} printable characters")
    scope = values["scope"]
    if len(scope) > MAX_SCOPE_LENGTH:
        raise _invalid("Invalid scope: too long")
    apps: list[str] = []
    for app_id in (part.strip() for part in scope.split(",")):
        if _APP_ID.match(app_id) and app_id not in apps:
            apps.append(app_id)
    redirect_uri = check_redirect_uri(values["redirect_uri"]) if values.get("redirect_uri") else ""
    state = values.get("state", "")
    if len(state) > MAX_STATE_LENGTH or _has_control_characters(state):
        raise _invalid("Invalid state")
    return AccessRequest(response_type, client_id, client_name, tuple(apps), redirect_uri, state)


def grantable_apps(requested: Iterable[str], is_admin: bool, permissions: Iterable[str]) -> tuple[str, ...]:
    """The requested apps that exist and in which the user holds at least one right (Webasyst: getRights > 0)."""
    held = {permission.split(":")[0] for permission in permissions}
    return tuple(
        app_id
        for app_id in requested
        if app_id in APP_SCOPES and (is_admin or any(resource in held for resource in APP_SCOPES[app_id]))
    )


def _with_query(url: str, params: dict[str, str]) -> str:
    encoded = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    return url + ("&" if "?" in url else "?") + encoded


def _with_fragment(url: str, params: dict[str, str]) -> str:
    return url + "#" + "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())


def _state(request: AccessRequest) -> dict[str, str]:
    return {"state": request.state} if request.state else {}


def code_redirect(request: AccessRequest, code: str) -> str:
    return _with_query(request.redirect_uri, {"code": code, **_state(request)})


def token_redirect(request: AccessRequest, token: str, expires_in: int = 0) -> str:
    """Client apps: the token in the URI fragment, which browsers never send to a server; expires_in
    (RFC 6749 section 4.2.2) only when the operator gave tokens a lifetime."""
    lifetime = {"expires_in": str(expires_in)} if expires_in > 0 else {}
    return _with_fragment(request.redirect_uri, {"access_token": token, **lifetime, **_state(request)})


def denial_redirect(request: AccessRequest) -> str | None:
    """Where a denial goes: the fragment for client apps, the query for web server apps; None without a URI."""
    if not request.redirect_uri:
        return None
    params = {"error": "access_denied", **_state(request)}
    if request.response_type == "token":
        return _with_fragment(request.redirect_uri, params)
    return _with_query(request.redirect_uri, params)
