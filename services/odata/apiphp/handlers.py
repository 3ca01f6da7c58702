"""The api.php access point of the odata service: read the call, check it in Webasyst's order, answer JSON or XML.

Paths (Webasyst's waAPIController::dispatch): /api.php/APP.METHOD, /api.php/APP/METHOD, /api.php?app=&method=,
each with an optional trailing slash (seed 000's own examples use /api.php/shop.product.getInfo/?id=4).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiohttp import web

from services.odata.apiphp.errors import (
    AccessDenied,
    ApiPhpError,
    BodyTooLarge,
    InvalidMethod,
    InvalidRequest,
    InvalidToken,
)
from services.odata.apiphp.methods import INSTALLED_APPS, MethodContext, find_method
from services.odata.apiphp.params import MethodParams
from services.odata.keys import CONFIG, POOL
from shared import apiphp_format
from shared.bodies import MalformedBody, read_form
from shared.errors import ApiError, Unauthorized
from shared.principal import Principal, principal_from_request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NO_STORE = {"Cache-Control": "no-store"}
_APP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}(?:\.[A-Za-z][A-Za-z0-9_]{0,31}){0,3}$")


def respond(data: dict[str, object], fmt: str, status: int = 200) -> web.Response:
    body, content_type = apiphp_format.render(data, fmt)
    return web.Response(status=status, body=body, content_type=content_type, charset="utf-8", headers=NO_STORE)


def method_of(tail: str, query_app: str | None, query_method: str | None) -> tuple[str, str]:
    """(app, method) from the path after /api.php, or from ?app=&method= on /api.php itself."""
    path = tail.strip("/")
    if not path:
        app, method = query_app or "", query_method or ""
        if not app or not method:
            raise InvalidRequest("Required parameter is missing: " + ("app" if not app else "method"))
    else:
        parts = path.split("/")
        if len(parts) == 2:
            app, method = parts
        elif len(parts) == 1 and "." in parts[0]:
            app, method = parts[0].split(".", 1)
        else:
            raise InvalidRequest("Malformed request: use /api.php/APP.METHOD or /api.php/APP/METHOD")
    if not _APP.match(app) or not _METHOD.match(method):
        raise InvalidRequest("Malformed request: use /api.php/APP.METHOD or /api.php/APP/METHOD")
    return app, method


async def _pairs(request: web.Request) -> Iterable[tuple[str, str]]:
    pairs = list(request.query.items())
    if request.method == "POST" and request.content_type in FORM_TYPES:
        try:
            form = await read_form(request)
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(f"The request body is larger than {request.client_max_size} bytes") from None
        except MalformedBody as error:
            raise InvalidRequest(error.message) from None
        pairs.extend((name, value) for name, value in form.items() if isinstance(value, str))
    return pairs


def _principal(request: web.Request) -> Principal:
    try:
        return principal_from_request(
            request, request.app[CONFIG].common.signing_key.bytes, request.app[CONFIG].common.service
        )
    except Unauthorized:
        raise InvalidToken("Invalid access token") from None


async def call_method(request: web.Request) -> web.Response:
    try:
        fmt = apiphp_format.response_format(request.query.get("format"))
    except apiphp_format.UnknownFormat as error:
        return respond(InvalidRequest(str(error)).body(), apiphp_format.DEFAULT_FORMAT, 400)
    try:
        return respond(await _answer(request), fmt)
    except ApiPhpError as error:
        return respond(error.body(), fmt, error.status)
    except ApiError as error:  # the shared readers' own errors (a query timeout, a value the data cannot take)
        code = apiphp_format.INVALID_REQUEST if error.status < 500 else error.code
        return respond(apiphp_format.error_body(code, error.message), fmt, error.status)


async def _answer(request: web.Request) -> dict[str, object]:
    principal = _principal(request)
    app, name = method_of(request.match_info.get("tail", ""), request.query.get("app"), request.query.get("method"))
    if app not in INSTALLED_APPS:
        raise InvalidMethod(f"Unknown method: {app}.{name} (the app {app} is not installed)")
    if app not in principal.scopes:
        raise AccessDenied("This token does not allow access to the specified method")
    method = find_method(app, name)
    if method is None:
        raise InvalidMethod(f"Unknown method: {app}.{name}")
    if not principal.can(method.resource, "read"):
        raise AccessDenied(f"This token does not allow access to the specified method (needs {method.resource}:read)")
    params = MethodParams(await _pairs(request))
    config = request.app[CONFIG]
    async with request.app[POOL].acquire() as conn:
        return await method.run(MethodContext(conn, params, config.max_page_size))
