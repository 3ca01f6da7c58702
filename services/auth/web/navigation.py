"""The areas of the control panel a signed-in user may open; the same permissions decide in the JSON API."""

from __future__ import annotations

from dataclasses import dataclass

from services.auth.web.visitor import SignedInUser


@dataclass(frozen=True)
class Section:
    title: str
    path: str
    description: str


def sections(user: SignedInUser) -> list[Section]:
    found = [Section("Dashboard", "/panel/", "Your keys, recent imports and, for admins, the platform's health.")]
    if user.can("api_keys", "read"):
        found.append(Section("API Keys", "/panel/api-keys", "Create, rotate and revoke your API keys."))
    if user.can("imports", "read"):
        found.append(Section("Imports", "/panel/imports", "Upload CSV files and follow their imports."))
    if user.can("mappers", "read"):
        found.append(Section("Mappers", "/panel/mappers", "Which CSV column feeds which field; try one on a file."))
    if user.can("webhooks", "read"):
        found.append(Section("Webhooks", "/panel/webhooks", "Send the platform's events to your URLs; delivery log."))
    if user.can("users", "read"):
        found.append(Section("Users", "/panel/users", "Users, their permissions and their API access."))
    if user.can("apps", "read"):
        found.append(Section("Developer Apps", "/panel/apps", "OAuth applications: Client ID and Client Secret."))
    found.append(Section("Developers", "/panel/developers", "Create a Developer Account to build OAuth apps."))
    if user.can("plugins", "read"):
        found.append(Section("Plugins", "/panel/plugins", "Plugins and the credentials a plugin host injects."))
    if user.principal.is_admin:
        found.append(Section("Audit Log", "/panel/audit", "Who did what to which credential, when and from where."))
    found.append(
        Section("Authorized Apps", "/panel/authorized-apps", "Applications and api.php tokens using your account.")
    )
    found.append(Section("Password", "/panel/password", "Change your password; signs out your other sessions."))
    return found
