"""The error model: domain code raises these; one middleware per service renders them.

Every JSON error has the shape {"error": {"code": ..., "message": ..., "target": ...}} (target optional),
the same envelope OData v4 uses, so clients parse one format across the platform.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from aiohttp import web

log = logging.getLogger(__name__)


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        target: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.target = target
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


class NotImplementedFeature(ApiError):
    status = 501
    code = "not_implemented"


class BadGateway(ApiError):
    status = 502
    code = "bad_gateway"


class ServiceUnavailable(ApiError):
    status = 503
    code = "service_unavailable"


class GatewayTimeout(ApiError):
    status = 504
    code = "gateway_timeout"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    429: "too_many_requests",
    431: "header_fields_too_large",
}


def error_response(error: ApiError) -> web.Response:
    return web.Response(
        status=error.status,
        text=json.dumps(error.body()),
        content_type="application/json",
        headers=error.headers,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ApiError and aiohttp's own HTTP errors into the JSON envelope; never show a traceback."""
    try:
        return await handler(request)
    except ApiError as error:
        if error.status >= 500:
            log.warning("request failed: %s %s", error.code, error.message)
        return error_response(error)
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        code = _HTTP_CODES.get(http_error.status, "error")
        message = http_error.reason
        if http_error.status == 404:
            message = f"No route for {request.method} {request.path}"
        elif http_error.status == 413:
            message = "The request body is larger than this endpoint accepts"
        response = error_response(ApiError(message))
        response.set_status(http_error.status)
        response.body = json.dumps({"error": {"code": code, "message": message}}).encode()
        if http_error.status == 405 and "Allow" in http_error.headers:
            response.headers["Allow"] = http_error.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ApiError("An internal error occurred; it has been logged"))
