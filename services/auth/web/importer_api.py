"""The importer's HTTP API as the control panel calls it: as the signed-in user (their principal, signed for the
importer), so the importer applies the same permissions and owner rules as to any API call. An upload streams
through from the browser to the importer; nothing holds the file."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp

from shared.errors import (
    ApiError,
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

log = logging.getLogger(__name__)

AUDIENCE = "importer"
CALL_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
# An upload lasts as long as the browser sends; what must not happen is silence.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5, sock_read=120)
MAX_ANSWER_BYTES = 4 * 1024 * 1024


class ImporterUnavailable(BadGateway):
    code = "importer_unavailable"


# The importer's refusals keep their status (and so the page's), message and target.
_REFUSALS: dict[int, type[ApiError]] = {
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


async def _refusal(response: aiohttp.ClientResponse) -> ApiError:
    try:
        error = (await response.json(content_type=None))["error"]
        code, message, target = str(error["code"]), str(error["message"]), error.get("target")
    except (ValueError, KeyError, TypeError, aiohttp.ClientError):
        code, message, target = "error", f"The importer answered {response.status}", None
    if response.status >= 500 or response.status == 429:
        log.warning("the importer answered %s (%s)", response.status, code)
        return ImporterUnavailable(f"The importer cannot take this now ({message}); try again shortly")
    return _REFUSALS.get(response.status, BadRequest)(message, target=None if target is None else str(target))


class ImporterApi:
    def __init__(self, base_url: str, signing_key: bytes) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = signing_key
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(raise_for_status=False, auto_decompress=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, principal: Principal, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {PRINCIPAL_HEADER: sign_principal(principal, self._key, AUDIENCE), **(extra or {})}

    async def call(
        self,
        principal: Principal,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """The JSON answer of one call (None for 204); the importer's refusals raise as the errors they are."""
        assert self._session is not None, "the importer client is opened at start-up"
        try:
            async with self._session.request(
                method,
                f"{self.base_url}{path}",
                params=query,
                json=body,
                headers=self._headers(principal),
                timeout=CALL_TIMEOUT,
            ) as response:
                return await self._answer(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("the importer cannot be reached: %s", type(error).__name__)
            raise ImporterUnavailable("The importer cannot be reached; try again shortly") from None

    async def upload(
        self, principal: Principal, fields: Mapping[str, str], file_name: str, content: AsyncIterator[bytes]
    ) -> Any:
        """POST /api/import with the form fields first and the file streamed as it arrives; answers at once
        (Prefer: respond-async) with the queued job."""
        assert self._session is not None, "the importer client is opened at start-up"
        with aiohttp.MultipartWriter("form-data") as form:
            for name, value in fields.items():
                part = form.append(value)
                part.set_content_disposition("form-data", name=name)
            file_part = form.append(aiohttp.payload.AsyncIterablePayload(content, content_type="text/csv"))
            file_part.set_content_disposition("form-data", name="file", filename=file_name)
        try:
            async with self._session.post(
                f"{self.base_url}/api/import",
                data=form,
                headers=self._headers(principal, {"Prefer": "respond-async"}),
                timeout=UPLOAD_TIMEOUT,
            ) as response:
                return await self._answer(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("the upload to the importer failed: %s", type(error).__name__)
            raise ImporterUnavailable("The upload could not reach the importer; try again shortly") from None

    async def _answer(self, response: aiohttp.ClientResponse) -> Any:
        if response.status >= 400:
            raise await _refusal(response)
        if response.status == 204:
            return None
        if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
            raise ImporterUnavailable("The importer's answer is too large")
        return await response.json()
