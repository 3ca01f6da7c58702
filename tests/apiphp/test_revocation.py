"""api.php tokens never expire, so revocation ends them: by their owner or by themselves, at every gateway at once."""

from __future__ import annotations

import logging
import time

import aiohttp
import pytest

from tests.apiphp.conftest import ApiPhpPlatform
from tests.eventually import eventually

LIST = "/api.php/shop.product.getList"


async def _refused_within(platform: ApiPhpPlatform, token: str, seconds: float) -> float:
    started = time.monotonic()

    async def refused() -> bool:
        return (await platform.call(LIST, params={"access_token": token})).status == 401

    await eventually(refused, timeout=seconds, what="the revoked token's refusal")
    return time.monotonic() - started


async def _key_for(platform: ApiPhpPlatform, admin_api_key: str, user_id: int) -> str:
    response = await platform.call(
        "/api/keys", "POST", json={"name": "apiphp owner", "user_id": user_id}, headers={"X-API-Key": admin_api_key}
    )
    assert response.status == 201, await response.text()
    return (await response.json())["key"]


async def test_a_token_revoked_by_its_owner_is_refused_within_one_second(
    apiphp_platform: ApiPhpPlatform, admin_api_key: str
) -> None:
    user = await apiphp_platform.user()
    token = await apiphp_platform.token(user)
    # Verified once, so the gateway holds it in its cache: only the revocation event can take it out.
    assert (await apiphp_platform.call(LIST, params={"access_token": token})).status == 200
    owner = {"X-API-Key": await _key_for(apiphp_platform, admin_api_key, user["id"])}
    listed = await apiphp_platform.call("/api/apiphp/tokens", headers=owner)
    assert listed.status == 200, await listed.text()
    tokens = (await listed.json())["value"]
    assert [entry["client_id"] for entry in tokens] == ["com.example.shopsync"]
    assert tokens[0]["scope"] == "shop" and tokens[0]["revoked_at"] is None
    assert token not in await listed.text()
    revoked = await apiphp_platform.call(f"/api/apiphp/tokens/{tokens[0]['id']}/revoke", "POST", headers=owner)
    assert revoked.status == 200, await revoked.text()
    assert await _refused_within(apiphp_platform, token, 1.0) < 1.0
    after = await apiphp_platform.call("/api/apiphp/tokens", headers=owner)
    assert (await after.json())["value"][0]["revoked_at"] is not None


async def test_a_token_revokes_itself_at_api_php_revoke(apiphp_platform: ApiPhpPlatform) -> None:
    token = await apiphp_platform.token()
    assert (await apiphp_platform.call(LIST, params={"access_token": token})).status == 200
    response = await apiphp_platform.call("/api.php/revoke", "POST", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200, await response.text()
    assert await _refused_within(apiphp_platform, token, 1.0) < 1.0


async def test_one_user_cannot_revoke_or_see_another_users_tokens(
    apiphp_platform: ApiPhpPlatform, admin_api_key: str
) -> None:
    victim = await apiphp_platform.user()
    token = await apiphp_platform.token(victim)
    victim_key = {"X-API-Key": await _key_for(apiphp_platform, admin_api_key, victim["id"])}
    token_id = (await (await apiphp_platform.call("/api/apiphp/tokens", headers=victim_key)).json())["value"][0]["id"]
    intruder = await apiphp_platform.user()
    intruder_key = {"X-API-Key": await _key_for(apiphp_platform, admin_api_key, intruder["id"])}
    assert (await (await apiphp_platform.call("/api/apiphp/tokens", headers=intruder_key)).json())["value"] == []
    refused = await apiphp_platform.call(f"/api/apiphp/tokens/{token_id}/revoke", "POST", headers=intruder_key)
    assert refused.status == 404
    assert (await apiphp_platform.call(LIST, params={"access_token": token})).status == 200


async def test_an_api_php_token_cannot_manage_api_php_tokens(apiphp_platform: ApiPhpPlatform) -> None:
    token = await apiphp_platform.token()
    response = await apiphp_platform.call("/api/apiphp/tokens", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 403


async def test_a_deactivated_user_loses_the_token(apiphp_platform: ApiPhpPlatform, admin_api_key: str) -> None:
    user = await apiphp_platform.user()
    token = await apiphp_platform.token(user)
    assert (await apiphp_platform.call(LIST, params={"access_token": token})).status == 200
    response = await apiphp_platform.call(
        f"/api/users/{user['id']}", "PATCH", json={"is_active": False}, headers={"X-API-Key": admin_api_key}
    )
    assert response.status == 200, await response.text()
    await _refused_within(apiphp_platform, token, 1.0)


async def test_the_token_never_reaches_the_logs_nor_the_odata_service(
    apiphp_platform: ApiPhpPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    token = await apiphp_platform.token()
    caplog.set_level(logging.DEBUG)
    assert (await apiphp_platform.call(LIST, params={"access_token": token, "limit": "1"})).status == 200
    assert (await apiphp_platform.call(LIST, "POST", data={"access_token": token, "limit": "1"})).status == 200
    form = aiohttp.FormData()
    form.add_field("access_token", token)
    form.add_field("limit", "1")
    assert (await apiphp_platform.call(LIST, "POST", data=form)).status == 200
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in str(getattr(record, "fields", ""))
