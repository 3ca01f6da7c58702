"""The Audit Log page (admins): who did what to which credential, filtered, newest first, paged; the same entries as
GET /api/audit."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from services.auth import api_keys
from tests.panel.conftest import Panel, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def _api_audit(panel: Panel, admin_key: str, **query: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        url = f"{panel.gateway}/api/audit"
        async with session.get(url, params=query, headers={"X-API-Key": admin_key}) as response:
            assert response.status == 200, await response.text()
            return (await response.json())["value"]


async def _keys_made_and_revoked(panel: Panel, user: dict[str, Any], count: int) -> None:
    actor = panel.principal_of({**user, "permissions": ["api_keys:create", "api_keys:delete"]})
    for index in range(count):
        created = await api_keys.create_key(
            panel.ctx, actor, name=f"audited {index}", expires_at=None, scope=frozenset()
        )
        await api_keys.revoke_key(panel.ctx, actor, uuid.UUID(created["id"]))


async def test_admin_filters_by_user_and_action_newest_first(page: Any, panel: Panel) -> None:
    subject = await panel.user(permissions={"api_keys:create", "api_keys:delete"})
    await _keys_made_and_revoked(panel, subject, 2)
    admin = await panel.user(admin=True)
    await signed_in(page, panel, admin, "/panel/audit")
    await page.fill("#user", subject["username"])
    await page.fill("#event", "api_key.revoked")
    await page.click("button:has-text('Filter')")
    rows = page.locator("table.audit tbody tr")
    assert await rows.count() == 2
    shown = [await rows.nth(index).inner_text() for index in range(2)]
    assert all("api_key.revoked" in text and subject["username"] in text for text in shown)
    assert "audited 1" in shown[0] and "audited 0" in shown[1]
    entries = await _api_audit(panel, await panel.api_key(admin), user_id=str(subject["id"]), event="api_key.revoked")
    assert [entry["details"]["name"] for entry in entries] == ["audited 1", "audited 0"]


async def test_a_time_range_without_events_shows_none(page: Any, panel: Panel) -> None:
    subject = await panel.user(permissions={"api_keys:create", "api_keys:delete"})
    await _keys_made_and_revoked(panel, subject, 1)
    admin = await panel.user(admin=True)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    await signed_in(page, panel, admin, f"/panel/audit?user={subject['username']}")
    assert await page.locator("table.audit tbody tr").count() == 3  # created the user, created and revoked a key
    await page.fill("#from", tomorrow)
    await page.click("button:has-text('Filter')")
    assert "No entries match." in await page.inner_text("main")
    since = f"{tomorrow}T00:00:00+00:00"
    assert await _api_audit(panel, await panel.api_key(admin), user_id=str(subject["id"]), since=since) == []


async def test_the_log_is_paged(page: Any, panel: Panel) -> None:
    subject = await panel.user(permissions={"api_keys:create", "api_keys:delete"})
    await _keys_made_and_revoked(panel, subject, 26)  # with user.created, 53 entries: two pages of fifty
    admin = await panel.user(admin=True)
    await signed_in(page, panel, admin, f"/panel/audit?user={subject['username']}")
    assert await page.locator("table.audit tbody tr").count() == 50
    await page.click("text=Older entries")
    assert await page.locator("table.audit tbody tr").count() == 3
    oldest = await page.inner_text("table.audit tbody tr:last-child")
    assert "user.created" in oldest and await page.locator("text=Older entries").count() == 0
    await page.click("text=Newest entries")
    assert await page.locator("table.audit tbody tr").count() == 50


async def test_an_unknown_user_in_the_filter_is_said(page: Any, panel: Panel) -> None:
    admin = await panel.user(admin=True)
    await signed_in(page, panel, admin, f"/panel/audit?user=nobody-{secrets.token_hex(3)}")
    assert "No user named" in await page.inner_text(".error")


async def test_only_admins_read_the_audit_log(page: Any, panel: Panel) -> None:
    user = await panel.user(permissions={"users:read", "api_keys:read"})
    await signed_in(page, panel, user, "/panel/")
    assert await page.locator("header nav >> text=Audit Log").count() == 0
    response = await page.goto("/panel/audit")
    assert response.status == 403
    async with aiohttp.ClientSession() as session:
        url = f"{panel.gateway}/api/audit"
        async with session.get(url, headers={"X-API-Key": await panel.api_key(user)}) as answer:
            assert answer.status == 403
