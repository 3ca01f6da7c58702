"""HTML of the Webhooks pages: subscriptions, the form, the secret shown once, the delivery log."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from services.auth.panel import markup
from services.auth.panel.signin import PanelUser
from shared.platform_events import EVENT_TYPES

STATUSES = ("pending", "succeeded", "failed", "refused")


def subscription_list(user: PanelUser, subscriptions: list[dict[str, Any]]) -> str:
    rows = []
    for item in subscriptions:
        base = f"/panel/webhooks/{quote(item['id'])}"
        status = "Active" if item["active"] else "Disabled"
        reason = f'<br><span class="hint">{escape(item["disabledReason"])}</span>' if item["disabledReason"] else ""
        actions = f'<a href="{base}/deliveries">Deliveries</a>'
        if user.can("webhooks", "update"):
            actions += f' <a href="{base}">Edit</a>'
        if user.can("webhooks", "delete"):
            actions += " " + markup.post_button(f"{base}/delete", "Delete", user, "danger")
        rows.append(
            [
                f"<code>{escape(item['url'])}</code>",
                escape(", ".join(item["events"])),
                escape(item["description"]),
                f'<span class="status-{"active" if item["active"] else "revoked"}">{status}</span>{reason}',
                escape(item["owner"]["username"]),
                markup.moment(item["createdAt"]),
                actions,
            ]
        )
    parts = []
    if user.can("webhooks", "create"):
        parts.append('<p><a class="button" href="/panel/webhooks/new">Add Webhook</a></p>')
    parts.append(
        markup.table(
            ["URL", "Events", "Description", "Status", "Owner", "Created", ""], rows, "No webhook subscriptions yet."
        )
    )
    return "".join(parts)


def subscription_form(user: PanelUser, values: dict[str, Any], action: str, submit: str) -> str:
    chosen = set(values.get("events", []))
    boxes = "".join(
        f'<label class="check"><input type="checkbox" name="events" value="{escape(event)}"'
        f"{' checked' if event in chosen else ''}> <code>{escape(event)}</code></label>"
        for event in EVENT_TYPES
    )
    active = values.get("active", True)
    return (
        f'<form method="post" action="{escape(action)}">{markup.csrf_field(user)}'
        '<label for="url">Endpoint URL</label>'
        f'<input type="url" id="url" name="url" required maxlength="2000" value="{escape(values.get("url", ""))}" '
        'placeholder="https://shop.example.com/webhooks">'
        '<p class="hint">Deliveries are signed HTTP POSTs (Standard Webhooks); private and internal addresses are '
        "refused.</p>"
        f"<fieldset><legend>Events</legend>{boxes}</fieldset>"
        '<label for="description">Description (optional)</label>'
        f'<input type="text" id="description" name="description" maxlength="500" '
        f'value="{escape(values.get("description", ""))}">'
        f'<label class="check"><input type="checkbox" name="active" value="on"{" checked" if active else ""}> '
        "Active</label>"
        f'<div class="actions"><button type="submit">{escape(submit)}</button>'
        '<a href="/panel/webhooks">Cancel</a></div></form>'
    )


def edit_page(user: PanelUser, subscription: dict[str, Any]) -> str:
    base = f"/panel/webhooks/{quote(subscription['id'])}"
    reason = ""
    if subscription["disabledReason"]:
        reason = (
            f'<p class="warning" role="alert">Disabled: {escape(subscription["disabledReason"])}. '
            "Tick Active and save to enable it again.</p>"
        )
    return (
        reason
        + subscription_form(user, subscription, base, "Save")
        + "<h2>Signing secret</h2>"
        + '<p class="hint">Rotating replaces the secret at once; update your receiver with the new one.</p>'
        + markup.post_button(f"{base}/rotate-secret", "Rotate secret", user, "danger")
        + f'<p><a href="{base}/deliveries">Delivery log</a></p>'
    )


def secret_shown(subscription: dict[str, Any], secret: str, heading: str) -> str:
    return (
        f"<p>{escape(heading)}</p>"
        '<p class="warning" role="alert"><strong>Copy the secret now.</strong> It won\'t be shown again.</p>'
        + markup.secret_box("webhook_secret", "Signing secret", secret)
        + f'<p class="hint">Endpoint: <code>{escape(subscription.get("url", ""))}</code></p>'
        '<p class="hint">Verify each delivery\'s <code>webhook-signature</code> with it (see '
        "<code>examples/webhook_receiver.py</code>).</p>"
        '<p><a href="/panel/webhooks">Back to Webhooks</a></p>'
    )


def delivery_log(user: PanelUser, subscription: dict[str, Any], deliveries: list[dict[str, Any]], status: str) -> str:
    base = f"/panel/webhooks/{quote(subscription['id'])}"
    filters = " · ".join(
        f"<strong>{escape(label)}</strong>"
        if value == status
        else f'<a href="{base}/deliveries{"?status=" + value if value else ""}">{escape(label)}</a>'
        for value, label in (("", "All"), *((s, s.capitalize()) for s in STATUSES))
    )
    rows = []
    for delivery in deliveries:
        attempts = "".join(
            "<li>"
            + f"#{attempt['attempt']} {markup.moment(attempt['at'])} · {escape(attempt['outcome'])}"
            + (f" · HTTP {attempt['statusCode']}" if attempt["statusCode"] is not None else "")
            + f" · {attempt['durationMs']} ms"
            + (f" · {escape(attempt['error'])}" if attempt["error"] else "")
            + (f"<br><code>{escape(attempt['responseExcerpt'][:200])}</code>" if attempt.get("responseExcerpt") else "")
            + "</li>"
            for attempt in delivery["attempts"]
        )
        action = ""
        if user.can("webhooks", "update") and subscription["active"]:
            action = markup.post_button(f"{base}/deliveries/{quote(delivery['id'])}/resend", "Re-send", user)
        rows.append(
            [
                f"<code>{escape(delivery['id'])}</code>",
                escape(delivery["eventType"]),
                f'<span class="status-{escape(delivery["status"])}">{escape(delivery["status"].capitalize())}</span>',
                markup.moment(delivery["createdAt"]),
                f"<ul>{attempts}</ul>" if attempts else "",
                action,
            ]
        )
    return (
        f"<p>Endpoint: <code>{escape(subscription['url'])}</code></p><p>Show: {filters}</p>"
        + markup.table(["Delivery (webhook-id)", "Event", "Status", "Created", "Attempts", ""], rows, "No deliveries.")
        + '<p><a href="/panel/webhooks">Back to Webhooks</a></p>'
    )
