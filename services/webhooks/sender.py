"""One HTTP attempt to a receiver: signed per Standard Webhooks, no redirects, bounded in time and answer size."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver

from services.webhooks.signing import sign
from services.webhooks.targets import AddressPolicy, GuardedResolver, TargetRefused, check_url_host

EXCERPT_CHARS = 1000
ERROR_CHARS = 500
USER_AGENT = "platform-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    status_code: int | None
    duration_ms: int
    error: str | None
    excerpt: str | None


class WebhookSender:
    def __init__(
        self,
        resolver: AbstractResolver,
        policy: AddressPolicy,
        *,
        connect_timeout: float,
        total_timeout: float,
        max_response_bytes: int,
        connections: int,
    ) -> None:
        self._policy = policy
        self._max_response_bytes = max_response_bytes
        # No DNS cache: every new connection asks the guarded resolver, which checks what it returns.
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(resolver, policy), use_dns_cache=False, limit=connections, limit_per_host=0
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout, sock_connect=connect_timeout),
            auto_decompress=False,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        await self._session.close()

    async def send(self, url: str, secret: str, message_id: str, body: bytes) -> AttemptResult:
        started = time.perf_counter()
        timestamp = int(time.time())
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, message_id, timestamp, body),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        try:
            check_url_host(url, self._policy)
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                excerpt = await self._read_bounded(response)
                status = response.status
        except TargetRefused as refused:
            return _failure(started, f"target refused: {refused}")
        except aiohttp.ClientConnectorDNSError as error:
            if isinstance(error.os_error, TargetRefused):
                return _failure(started, f"target refused: {error.os_error}")
            return _failure(started, "the receiver's name does not resolve")
        except TimeoutError:
            return _failure(started, "timed out")
        except aiohttp.ClientError as error:
            return _failure(started, f"connection failed: {type(error).__name__}")
        except (OSError, ValueError) as error:
            return _failure(started, f"connection failed: {type(error).__name__}")
        duration = _elapsed_ms(started)
        if 200 <= status < 300:
            return AttemptResult(True, status, duration, None, excerpt)
        if 300 <= status < 400:
            return AttemptResult(False, status, duration, "redirects are not followed", excerpt)
        return AttemptResult(False, status, duration, f"HTTP {status}", excerpt)

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> str:
        """The start of the answer; reading stops at WEBHOOKS_MAX_RESPONSE_BYTES (the connection is then dropped)."""
        received = bytearray()
        while len(received) <= self._max_response_bytes:
            chunk = await response.content.readany()
            if not chunk:
                break
            received += chunk
        if len(received) > self._max_response_bytes:
            response.close()
        return received[: self._max_response_bytes].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def _failure(started: float, error: str) -> AttemptResult:
    return AttemptResult(False, None, _elapsed_ms(started), error[:ERROR_CHARS], None)


async def close_quietly(sender: WebhookSender) -> None:
    try:
        async with asyncio.timeout(5):
            await sender.close()
    except (TimeoutError, OSError):
        return
