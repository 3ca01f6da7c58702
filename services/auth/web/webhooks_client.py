"""The Webhooks pages' way to the webhooks service: its JSON API, called with the signed-in user's principal, so the
webhooks service applies the same rules to a panel page as to an API call (own subscriptions; admins all)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from services.auth.keys import CONFIG
from shared.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

TIMEOUT_SECONDS = 10.0
_ERRORS: dict[int, type[ApiError]] = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}


class WebhooksClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, signing_key: bytes) -> None:
        self._session = session
        self._base_url = base_url
        self._signing_key = signing_key

    async def call(self, principal: Principal, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The answer's JSON (None for 204); the service's 4xx as the same ApiError, its absence as a 503."""
        headers = {PRINCIPAL_HEADER: sign_principal(principal, self._signing_key, "webhooks")}
        try:
            async with self._session.request(
                method, self._base_url + path, json=body, headers=headers, allow_redirects=False
            ) as response:
                answer = await response.json() if response.content_type == "application/json" else None
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError):
            raise ServiceUnavailable("The webhooks service does not answer; try again shortly") from None
        if status < 300:
            return answer
        error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
        message = str(error.get("message") or f"The webhooks service answered {status}")[:500]
        raise _ERRORS.get(status, ServiceUnavailable)(message, target=error.get("target"))


WEBHOOKS = web.AppKey("webhooks_client", WebhooksClient)


async def webhooks_client(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as session:
        app[WEBHOOKS] = WebhooksClient(session, config.webhooks_url, config.common.signing_key.bytes)
        yield
