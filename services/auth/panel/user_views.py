"""HTML of the Users area: the list and the Add/Edit screen with seed 002's "Enable the API?" setting."""

from __future__ import annotations

from html import escape
from typing import Any

from services.auth.panel import markup
from services.auth.panel.signin import PanelUser
from services.auth.panel.user_form import MAX_EMAIL_LENGTH, NewUser, UserForm
from services.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from services.auth.permissions import ACTIONS, RESOURCES

RESOURCE_NAMES = {"api_keys": "API keys"}


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def user_list(user: PanelUser, users: list[dict[str, Any]], next_after: int | None) -> str:
    rows = []
    for listed in users:
        edit = ""
        if user.can("users", "update") and (user.principal.is_admin or not listed["is_admin"]):
            edit = f'<a href="/panel/users/{listed["id"]}">Edit</a>'
        rows.append(
            [
                escape(listed["username"]),
                escape(listed["email"] or ""),
                "Active" if listed["is_active"] else "Inactive",
                _yes_no(listed["is_admin"]),
                "Enabled" if listed["api_access_enabled"] else "Disabled",
                edit,
            ]
        )
    more = f'<p><a href="/panel/users?after={next_after}">Next page</a></p>' if next_after is not None else ""
    add = '<p><a class="button" href="/panel/users/new">Add User</a></p>' if user.can("users", "create") else ""
    return add + markup.table(["Username", "Email", "Status", "Admin", "API access", ""], rows, "No users.") + more


def _checkbox(name: str, checked: bool, label: str) -> str:
    return (
        f'<div><label class="check"><input type="checkbox" name="{escape(name)}" value="yes"'
        f"{' checked' if checked else ''}> {escape(label)}</label></div>"
    )


def _permission_grid(user: PanelUser, permissions: frozenset[str], is_admin: bool) -> str:
    head = "".join(f"<th>{escape(action.capitalize())}</th>" for action in ACTIONS)
    rows = []
    for resource in RESOURCES:
        cells = []
        for action in ACTIONS:
            permission = f"{resource}:{action}"
            granted = permission in permissions
            # One cannot grant what one does not hold (the domain refuses it too); one may keep or remove it.
            grantable = granted or permission in user.principal.permissions
            state_attributes = (" checked" if granted else "") + ("" if grantable else " disabled")
            cells.append(
                f'<td><input type="checkbox" name="permission" value="{escape(permission)}"{state_attributes} '
                f'aria-label="{escape(resource)} {escape(action)}" title="{escape(permission)}"></td>'
            )
        rows.append(f"<tr><td>{escape(RESOURCE_NAMES.get(resource, resource.capitalize()))}</td>{''.join(cells)}</tr>")
    note = (
        '<p class="hint">This user is an administrator and holds every permission whatever is ticked here.</p>'
        if is_admin
        else '<p class="hint">The same permissions govern this panel and the API.</p>'
    )
    return (
        "<fieldset><legend>Permissions</legend>"
        f'<table class="grid"><thead><tr><th>Resource</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f"{note}</fieldset>"
    )


def _api_access(state: UserForm, token_problem: str | None) -> str:
    regenerate_url = f"/panel/users/{state.user_id}/api-token/regenerate"
    enable_url = f"/panel/users/{state.user_id}/api-access"
    checked = " checked" if state.api_enabled else ""
    if state.pending_id is not None:
        token_note = (
            '<p class="warning" role="status">This is a new token. It takes effect only when you click Save; '
            "until then the current token keeps working. After Save the current token stops working.</p>"
            + markup.hidden("pending_id", state.pending_id)
        )
    else:
        token_note = (
            f'<p class="hint">Use it with the username <code>{escape(state.username)}</code> '
            "for HTTP Basic authentication.</p>"
        )
    problem = f'<p class="error">{escape(token_problem)}</p>' if token_problem else ""
    block_hidden = "" if state.token is not None or token_problem else " hidden"
    return (
        '<fieldset class="api"><legend>Enable the API?</legend>'
        f'<label class="check"><input type="checkbox" id="api_enabled" name="api_enabled" value="yes"{checked} '
        f'data-enable-url="{escape(enable_url)}"> Yes, allow this user to use the API</label>'
        '<p id="api-status" class="hint" role="status"></p>'
        f'<div id="api-token-block"{block_hidden}>{problem}'
        + markup.secret_box("api_token", "API Token", state.token or "")
        + f'<p><button type="submit" class="link" formaction="{escape(regenerate_url)}" formnovalidate>'
        f"Regenerate API Token</button></p>{token_note}</div>"
        '<p class="hint">Removing the tick and clicking Save revokes this user\'s API access at once.</p>'
        "</fieldset>"
    )


def _reset_link(user_id: int) -> str:
    return f'<p><a href="/panel/users/{user_id}/password">Reset password</a></p>'


def edit_user(user: PanelUser, state: UserForm, token_problem: str | None = None) -> str:
    admin_box = ""
    if user.principal.is_admin:
        admin_box = _checkbox("is_admin", state.is_admin, "Administrator (holds every permission)")
    elif state.is_admin:
        admin_box = "<p>Administrator</p>"
    return (
        f'<form method="post" action="/panel/users/{state.user_id}" id="user-form">{markup.csrf_field(user)}'
        "<fieldset><legend>Account</legend>"
        '<label for="username">Username</label>'
        f'<input type="text" id="username" value="{escape(state.username)}" readonly>'
        '<label for="email">Email</label>'
        f'<input type="email" id="email" name="email" maxlength="{MAX_EMAIL_LENGTH}" value="{escape(state.email)}">'
        + _checkbox("is_active", state.is_active, "Active (may sign in and use the API)")
        + admin_box
        + "</fieldset>"
        + _permission_grid(user, state.permissions, state.is_admin)
        + _api_access(state, token_problem)
        + '<div class="actions"><button type="submit">Save</button><a href="/panel/users">Cancel</a></div></form>'
        + (
            f'<p><a href="/panel/users/{state.user_id}/password">Reset password</a></p>'
            if user.principal.is_admin
            else ""
        )
    )


def add_user(user: PanelUser, values: NewUser | None = None) -> str:
    values = values or NewUser("", "", False, frozenset())
    admin_box = _checkbox("is_admin", values.is_admin, "Administrator (holds every permission)")
    return (
        f'<form method="post" action="/panel/users">{markup.csrf_field(user)}'
        "<fieldset><legend>Account</legend>"
        '<label for="username">Username</label>'
        f'<input type="text" id="username" name="username" required maxlength="64" value="{escape(values.username)}">'
        '<label for="email">Email</label>'
        f'<input type="email" id="email" name="email" maxlength="{MAX_EMAIL_LENGTH}" value="{escape(values.email)}">'
        '<label for="password">Password</label>'
        f'<input type="password" id="password" name="password" autocomplete="new-password" '
        f'minlength="{MIN_PASSWORD_LENGTH}" maxlength="{MAX_PASSWORD_LENGTH}">'
        '<p class="hint">Needed to sign in to this panel; leave empty for a user who only uses the API.</p>'
        + (admin_box if user.principal.is_admin else "")
        + "</fieldset>"
        + _permission_grid(user, values.permissions, values.is_admin)
        + '<p class="hint">API access is set on the user\'s Edit screen once the user exists.</p>'
        '<div class="actions"><button type="submit">Add User</button><a href="/panel/users">Cancel</a></div></form>'
    )
