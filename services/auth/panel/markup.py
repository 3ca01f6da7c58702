"""The panel's HTML building blocks: the layout (templates/layout.html) and small escaped fragments.

Every value from the database or a form goes through escape(); fragments are joined only from escaped parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from string import Template

from services.auth.panel.signin import PanelUser

LAYOUT = Template((Path(__file__).parent / "templates" / "layout.html").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Section:
    title: str
    path: str
    description: str


def sections(user: PanelUser) -> list[Section]:
    """The areas this user may open; the same permissions decide in the JSON API."""
    found = []
    if user.can("api_keys", "read"):
        found.append(Section("API Keys", "/panel/api-keys", "Create, list and revoke your API keys."))
    if user.can("users", "read"):
        found.append(Section("Users", "/panel/users", "Users, their permissions and their API access."))
    if user.can("apps", "read"):
        found.append(Section("Developer Apps", "/panel/apps", "OAuth applications: Client ID and Client Secret."))
    if user.can("webhooks", "read"):
        found.append(Section("Webhooks", "/panel/webhooks", "Signed deliveries of platform events, and their log."))
    found.append(
        Section("Authorized Apps", "/panel/authorized-apps", "Applications and api.php tokens using your account.")
    )
    found.append(Section("Password", "/panel/password", "Change your password; signs out your other sessions."))
    return found


def page(
    title: str,
    content: str,
    user: PanelUser | None,
    *,
    notice: str | None = None,
    error: str | None = None,
    replace_history_with: str | None = None,
) -> str:
    nav = ""
    account = ""
    if user is not None:
        nav = "".join(f'<a href="{escape(item.path)}">{escape(item.title)}</a>' for item in sections(user))
        account = (
            f"<span>Signed in as <strong>{escape(user.principal.username)}</strong></span>"
            f'<form method="post" action="/auth/logout">{csrf_field(user)}'
            '<button type="submit" class="link">Sign out</button></form>'
        )
    messages = ""
    if notice:
        messages += f'<p class="notice" role="status">{escape(notice)}</p>'
    if error:
        messages += f'<p class="error" role="alert">{escape(error)}</p>'
    # The page that shows a secret once replaces its history entry, so a reload fetches the list instead.
    body_attributes = f' data-replace-history="{escape(replace_history_with)}"' if replace_history_with else ""
    return LAYOUT.substitute(
        title=escape(title),
        body_attributes=body_attributes,
        nav=nav,
        account=account,
        messages=messages,
        content=content,
    )


def csrf_field(user: PanelUser) -> str:
    return hidden("csrf_token", user.csrf_token)


def hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def post_button(action: str, label: str, user: PanelUser, css_class: str = "") -> str:
    """A one-button form: state changes are POSTs carrying the CSRF token, never links."""
    class_attribute = f' class="{escape(css_class)}"' if css_class else ""
    return (
        f'<form method="post" action="{escape(action)}" class="inline">{csrf_field(user)}'
        f'<button type="submit"{class_attribute}>{escape(label)}</button></form>'
    )


def secret_box(element_id: str, label: str, value: str) -> str:
    """A read-only input holding a secret, with a Copy button (panel.js)."""
    return (
        f'<label for="{escape(element_id)}">{escape(label)}</label>'
        f'<div class="secret"><input type="text" id="{escape(element_id)}" value="{escape(value)}" readonly '
        'autocomplete="off" spellcheck="false">'
        f'<button type="button" data-copy="{escape(element_id)}">Copy</button></div>'
    )


def table(headings: list[str], rows: list[list[str]], empty: str) -> str:
    """rows hold HTML fragments that are already escaped."""
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(heading)}</th>" for heading in headings)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def moment(value: str | None, missing: str = "never") -> str:
    """An ISO 8601 time from the domain layer, shown in UTC to the minute."""
    if value is None:
        return escape(missing)
    shown = datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
    return f'<time datetime="{escape(value)}">{escape(shown)}</time>'
