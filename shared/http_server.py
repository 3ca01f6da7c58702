"""aiohttp's server, answering requests it cannot parse in the platform's JSON error format, echoing nothing.

aiohttp answers a request line or header over its limit (and any other unparseable request) itself, before any
middleware runs, with a text body and a log line that both quote the offending line: a request URL's query string
may carry an access_token, which would then be in the answer and the logs. A service's connections here are
PlatformRequestHandlers instead, which answer 414 (URL), 431 (header) or 400 (anything else) as
{"error": {...}} with a fixed message and log only the kind of fault.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong

from shared.errors import ApiError, BadRequest, GatewayTimeout, error_response

log = logging.getLogger(__name__)

# The longest request line (method, URL with its query string, version); a longer one is a 414.
MAX_REQUEST_LINE_BYTES = 8192
# The longest header (name and value); a longer one is a 431. Different from the line limit on purpose: aiohttp's
# LineTooLong says only which limit it exceeded, and that is how the request line is told from a header.
MAX_HEADER_FIELD_BYTES = 8190
SERVER_LIMITS = {"max_line_size": MAX_REQUEST_LINE_BYTES, "max_field_size": MAX_HEADER_FIELD_BYTES}


class UriTooLong(ApiError):
    status = 414
    code = "uri_too_long"


class HeaderFieldsTooLarge(ApiError):
    status = 431
    code = "header_fields_too_large"


def protocol_error(handler: web.RequestHandler, status: int, exc: BaseException | None) -> ApiError:
    """The platform's error for what aiohttp's server caught outside the application."""
    if isinstance(exc, LineTooLong):
        if exc.args[1:2] == (handler.max_line_size,):
            return UriTooLong(f"The request line is longer than the {handler.max_line_size} bytes this server reads")
        return HeaderFieldsTooLarge(f"A request header is longer than the {handler.max_field_size} bytes allowed")
    if status == 504:
        return GatewayTimeout("The request took too long")
    if 400 <= status < 500:
        return BadRequest("The request is not valid HTTP")
    return ApiError("An internal error occurred; it has been logged")


class PlatformRequestHandler(web.RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        error = protocol_error(self, status, exc)
        if error.status >= 500:
            log.error("unhandled error while serving a request from %s", request.remote, exc_info=exc)
        else:
            # The exception's text quotes the request; its class says enough.
            log.info("refused an unparseable request from %s: %s (%s)", request.remote, error.code, type(exc).__name__)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer has begun already; the connection is closed instead")
        response = error_response(error)
        response.force_close()
        return response


class PlatformServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        # The kwargs aiohttp gathered for its own RequestHandler (limits, timeouts, access log settings).
        return PlatformRequestHandler(self, loop=asyncio.get_running_loop(), **self._kwargs)


class PlatformAppRunner(web.AppRunner):
    """web.AppRunner whose connections are PlatformRequestHandlers, with the platform's request limits."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **{**SERVER_LIMITS, **kwargs})

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return PlatformServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **server._kwargs,
        )
