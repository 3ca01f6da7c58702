"""No lockout by strangers: failed logins, Basic credentials and OAuth client secrets are throttled per (name,
client address) with growing waits, so guesses from elsewhere never lock the real owner out, while a guesser is
slowed down. All through the gateway, from the client addresses a TLS front door reports."""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator

import pytest

from services.auth.web import signin
from tests.security._limits_stack import PASSWORD, Stack, basic, from_address, limits_stack


@pytest.fixture
async def stack(base_env: dict[str, str], admin_api_key: str) -> AsyncIterator[Stack]:
    async with limits_stack(base_env, admin_api_key) as running:
        yield running


def stranger(index: int) -> str:
    return f"203.0.113.{index + 1}"


async def test_ten_wrong_passwords_from_strangers_do_not_lock_the_admin_out(stack: Stack) -> None:
    admin = await stack.create_user(is_admin=True)
    for index in range(10):
        refused = await stack.log_in(admin["username"], "not the password at all", stranger(index))
        assert refused.status == 401
    signed_in = await stack.log_in(admin["username"], PASSWORD, "198.51.100.20")
    assert signed_in.status == 200 and "session" in "".join(signed_in.headers.getall("Set-Cookie", []))


async def test_wrong_passwords_from_one_address_wait_longer_and_longer(stack: Stack) -> None:
    user = await stack.create_user()
    statuses = [(await stack.log_in(user["username"], "wrong password!!", "203.0.113.200")).status for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    throttled = await stack.log_in(user["username"], PASSWORD, "203.0.113.200")
    assert throttled.status == 429 and int(throttled.headers["Retry-After"]) >= 1  # even the right password waits
    assert (await stack.log_in(user["username"], PASSWORD, "198.51.100.21")).status == 200


async def test_ten_wrong_basic_tokens_from_strangers_do_not_lock_the_user_out(stack: Stack) -> None:
    user = await stack.create_user(permissions=["products:read"])
    token = await stack.api_token(user)
    url = f"{stack.gateway}/odata/products?$top=1"
    for index in range(10):
        headers = {**basic(user["username"], f"cpt_{secrets.token_urlsafe(32)}"), **from_address(stranger(index))}
        async with stack.http.get(url, headers=headers) as response:
            assert response.status == 401
    headers = {**basic(user["username"], token), **from_address("198.51.100.22")}
    async with stack.http.get(url, headers=headers) as response:
        assert response.status == 200


async def test_wrong_basic_tokens_from_one_address_are_slowed_down(stack: Stack) -> None:
    user = await stack.create_user(permissions=["products:read"])
    url = f"{stack.gateway}/odata/products?$top=1"
    statuses = []
    for _ in range(6):
        headers = {**basic(user["username"], "cpt_wrong"), **from_address("203.0.113.201")}
        async with stack.http.get(url, headers=headers) as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
    assert statuses == [401] * 5 + [429] and retry_after is not None


async def _client_credentials_app(stack: Stack) -> tuple[str, str]:
    owner = await stack.create_user(permissions=["products:read", "apps:create"])
    body = {
        "name": "Sync robot",
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "scopes": ["products:read"],
    }
    headers = {"X-API-Key": await stack.api_key(owner), **from_address("192.0.2.2")}
    async with stack.http.post(f"{stack.gateway}/api/apps", json=body, headers=headers) as response:
        assert response.status == 201, await response.text()
        app = await response.json()
    return app["client_id"], app["client_secret"]


async def _token(stack: Stack, client_id: str, secret: str, address: str) -> tuple[int, dict[str, str], dict]:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    url = f"{stack.gateway}/auth/oauth/token"
    async with stack.http.post(url, data=form, headers=from_address(address)) as response:
        return response.status, dict(response.headers), await response.json()


async def test_failed_client_authentication_is_throttled_per_client_without_locking_the_client_out(
    stack: Stack,
) -> None:
    client_id, secret = await _client_credentials_app(stack)
    statuses = [(await _token(stack, client_id, "wrong-secret", "203.0.113.202"))[0] for _ in range(5)]
    assert statuses == [401] * 5
    status, headers, body = await _token(stack, client_id, "wrong-secret", "203.0.113.202")
    assert status == 429 and body["error"] == "temporarily_unavailable" and int(headers["Retry-After"]) >= 1
    status, _, body = await _token(stack, client_id, secret, "198.51.100.23")
    assert status == 200 and body["access_token"]


async def test_password_hashing_runs_in_a_worker_thread_not_on_the_event_loop(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real_verify = signin.verify_password

    def recording_verify(stored: str | None, password: str) -> bool:
        threads.append(threading.current_thread())
        return real_verify(stored, password)

    monkeypatch.setattr(signin, "verify_password", recording_verify)
    user = await stack.create_user()
    assert (await stack.log_in(user["username"], PASSWORD, "198.51.100.24")).status == 200
    assert threads and all(thread is not threading.main_thread() for thread in threads)
