"""Forwarding a request to its backend, streamed both ways, with the signed principal instead of credentials.

Neither body is held whole in memory: the request body is passed on chunk by chunk as it arrives (counted
against MAX_BODY_BYTES) and the backend's answer is copied to the client as it comes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from services.gateway.credentials import BUFFERED_FORM
from services.gateway.routes import RouteRule
from services.gateway.transport import ClientConnection
from shared.errors import ApiError, BadGateway, BadRequest, GatewayTimeout, PayloadTooLarge
from shared.logs import REQUEST_ID_HEADER, request_id_var
from shared.principal import PRINCIPAL_HEADER, Principal, sign_principal

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
# Answers up to this size with a declared length are read whole and sent in one write; larger ones stream.
SMALL_BODY_BYTES = 64 * 1024
# RFC 9110 section 7.6.1, plus headers this hop sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})
GATEWAY_SET = frozenset(
    {PRINCIPAL_HEADER.lower(), "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", REQUEST_ID_HEADER.lower()}
)


def upstream_headers(
    request: web.BaseRequest,
    rule: RouteRule,
    principal: Principal | None,
    client: ClientConnection,
    signing_key: bytes,
) -> CIMultiDict[str]:
    incoming = request.headers
    connection = {token.strip().lower() for value in incoming.getall("Connection", []) for token in value.split(",")}
    dropped = HOP_BY_HOP | GATEWAY_SET | connection
    if not rule.public:
        dropped |= CREDENTIAL_HEADERS
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in incoming.items() if name.lower() not in dropped
    )
    if principal is not None:
        headers[PRINCIPAL_HEADER] = sign_principal(principal, signing_key, rule.upstream)
    headers[REQUEST_ID_HEADER] = request_id_var.get()
    if client.address:
        headers["X-Forwarded-For"] = client.address
    headers["X-Forwarded-Proto"] = "https" if client.secure else "http"
    if request.host:
        headers["X-Forwarded-Host"] = request.host
    return headers


def downstream_headers(upstream: aiohttp.ClientResponse) -> CIMultiDict[str]:
    connection = {
        token.strip().lower() for value in upstream.headers.getall("Connection", []) for token in value.split(",")
    }
    dropped = HOP_BY_HOP | connection | {REQUEST_ID_HEADER.lower()}
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in upstream.headers.items() if name.lower() not in dropped
    )
    headers[REQUEST_ID_HEADER] = request_id_var.get()
    return headers


class RequestTimeout(ApiError):
    status = 408
    code = "request_timeout"


class _BodyCounter:
    """Passes the request body on chunk by chunk; stops it once it exceeds the limit or the client stalls."""

    def __init__(self, content: aiohttp.StreamReader, limit: int, idle_timeout: float) -> None:
        self._content = content
        self._limit = limit
        self._idle_timeout = idle_timeout
        self.failure: ApiError | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        sent = 0
        while True:
            try:
                async with asyncio.timeout(self._idle_timeout):
                    chunk = await self._content.readany()
            except TimeoutError:
                self.failure = RequestTimeout(f"The request body stalled for more than {self._idle_timeout:g} s")
                raise self.failure from None
            if not chunk:
                return
            sent += len(chunk)
            if sent > self._limit:
                self.failure = PayloadTooLarge(f"The request body is larger than {self._limit} bytes")
                raise self.failure
            yield chunk


class Forwarder:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        upstreams: dict[str, str],
        signing_key: bytes,
        max_body_bytes: int,
        timeout: float,
        client_body_timeout: float,
    ) -> None:
        self._session = session
        self._upstreams = upstreams
        self._signing_key = signing_key
        self._max_body_bytes = max_body_bytes
        self._client_body_timeout = client_body_timeout
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)

    async def forward(
        self,
        request: web.Request,
        rule: RouteRule,
        principal: Principal | None,
        client: ClientConnection,
        extra_headers: Mapping[str, str],
    ) -> web.StreamResponse:
        body: _BodyCounter | None = None
        declared = request.headers.get("Content-Length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 18:
                raise BadRequest("Content-Length is malformed")
            if int(declared) > self._max_body_bytes:
                raise PayloadTooLarge(f"The request body is larger than {self._max_body_bytes} bytes")
        buffered = request.get(BUFFERED_FORM)
        if buffered is None and request.body_exists:
            body = _BodyCounter(request.content, self._max_body_bytes, self._client_body_timeout)
        headers = upstream_headers(request, rule, principal, client, self._signing_key)
        if buffered is not None:
            headers["Content-Length"] = str(len(buffered.body))
        url = URL(self._upstreams[rule.upstream] + request.raw_path, encoded=True)
        if rule.credentials.query_parameter and rule.credentials.query_parameter in url.query:
            url = url.without_query_params(rule.credentials.query_parameter)
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=headers,
                data=buffered.body if buffered is not None else (body.chunks() if body is not None else None),
                timeout=self._timeout,
                allow_redirects=False,
            )
        except (TimeoutError, aiohttp.ClientError) as error:
            if body is not None and body.failure is not None:
                raise body.failure from None
            if isinstance(error, TimeoutError):
                raise GatewayTimeout(f"The {rule.upstream} service did not answer in time") from None
            log.warning("forwarding to %s failed: %s", rule.upstream, type(error).__name__)
            raise BadGateway(f"The {rule.upstream} service is unavailable") from None
        async with upstream:
            return await self._relay(request, rule, upstream, extra_headers)

    async def _relay(
        self,
        request: web.Request,
        rule: RouteRule,
        upstream: aiohttp.ClientResponse,
        extra_headers: Mapping[str, str],
    ) -> web.StreamResponse:
        headers = downstream_headers(upstream)
        for name, value in extra_headers.items():
            headers[name] = value
        length = upstream.content_length
        if length is not None and length <= SMALL_BODY_BYTES and request.method != "HEAD":
            # A small answer of known length goes out in one write: one system call instead of three.
            try:
                body = await upstream.read()
            except (aiohttp.ClientError, TimeoutError):
                log.warning("the %s service broke off its answer", rule.upstream)
                raise BadGateway(f"The {rule.upstream} service broke off its answer") from None
            headers.popall("Content-Length", None)
            return web.Response(status=upstream.status, reason=upstream.reason, body=body, headers=headers)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(headers)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as error:
            # The status line is gone already: cutting the connection is the only honest signal left,
            # where finishing the body normally would pass a truncated answer off as complete.
            log.warning("the %s service broke off its answer: %s", rule.upstream, type(error).__name__)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
