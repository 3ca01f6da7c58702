"""The api.php access point of the odata service: read the call, check it in Webasyst's order, answer JSON or XML.

Paths (Webasyst's waAPIController::dispatch): /api.php/APP.METHOD, /api.php/APP/METHOD, /api.php?app=&method=,
each with an optional trailing slash (seed 000's own examples use /api.php/shop.product.getInfo/?id=4).
The order of the checks and the error each one answers are documented in docs/apiphp.md.
"""

from __future__ import annotations

import re

from aiohttp import BodyPartReader, web

from services.odata.apiphp.context import MethodContext
from services.odata.apiphp.errors import (
    AccessDenied,
    ApiPhpError,
    AppNotInstalled,
    BodyTooLarge,
    InvalidMethod,
    InvalidRequest,
    InvalidToken,
    MethodNotAllowed,
)
from services.odata.apiphp.images import MAX_IMAGE_BYTES
from services.odata.apiphp.params import MAX_PARAMETERS, MAX_VALUE_LENGTH, MethodParams, UploadedFile
from services.odata.apiphp.registry import APP_RESOURCES, INSTALLED_APPS, find_method
from services.odata.keys import CONFIG, POOL
from shared import apiphp_format
from shared.bodies import MalformedBody, read_form
from shared.errors import ApiError, Unauthorized
from shared.principal import Principal, principal_from_request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NO_STORE = {"Cache-Control": "no-store"}
# A multipart body carries at most one image's worth of files plus the text fields.
MAX_MULTIPART_BYTES = MAX_IMAGE_BYTES + 1024 * 1024
CHUNK_BYTES = 64 * 1024
ACTIONS = ("read", "create", "update", "delete")
_APP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_METHOD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}(?:\.[A-Za-z][A-Za-z0-9_]{0,31}){0,3}$")
# XML item names of the methods that answer a list (Webasyst's `_element`).
LIST_ITEMS = {"product.skus.getlist": "sku", "product.images.getlist": "image"}


def respond(data: object, fmt: str, status: int = 200, item_name: str = "item") -> web.Response:
    body, content_type = apiphp_format.render(data, fmt, item_name)
    return web.Response(status=status, body=body, content_type=content_type, charset="utf-8", headers=NO_STORE)


def method_of(tail: str, query_app: str | None, query_method: str | None) -> tuple[str, str]:
    """(app, method) from the path after /api.php, or from ?app=&method= on /api.php itself."""
    path = tail.strip("/")
    malformed = InvalidRequest("Malformed request: use /api.php/APP.METHOD or /api.php/APP/METHOD")
    if not path:
        app, method = query_app or "", query_method or ""
        if not app or not method:
            raise malformed
    else:
        parts = path.split("/")
        if len(parts) == 2:
            app, method = parts
        elif len(parts) == 1 and "." in parts[0]:
            app, method = parts[0].split(".", 1)
        else:
            raise malformed
    if not _APP.match(app) or not _METHOD.match(method):
        raise malformed
    return app, method


async def _read_part(part: BodyPartReader, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The {what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart(request: web.Request) -> tuple[list[tuple[str, str]], list[UploadedFile]]:
    """The text fields and the files of a multipart form, streamed with every part and the total bounded."""
    if request.content_length is not None and request.content_length > MAX_MULTIPART_BYTES:
        raise BodyTooLarge(f"The request body is larger than {MAX_MULTIPART_BYTES} bytes")
    pairs: list[tuple[str, str]] = []
    files: list[UploadedFile] = []
    reader = await request.multipart()
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            raise InvalidRequest("The form body is malformed")
        if len(pairs) + len(files) >= MAX_PARAMETERS:
            raise InvalidRequest(f"At most {MAX_PARAMETERS} parameters")
        if part.filename is not None:
            content = await _read_part(part, MAX_IMAGE_BYTES, f"file {part.name[:32]}")
            total += len(content)
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files.append(UploadedFile(part.name, part.filename, content_type, content))
        else:
            raw = await _read_part(part, MAX_VALUE_LENGTH * 4, f"field {part.name[:32]}")
            total += len(raw)
            try:
                pairs.append((part.name, raw.decode(part.get_charset(default="utf-8"))))
            except (UnicodeDecodeError, LookupError):
                raise InvalidRequest(f"The form field {part.name[:32]} is not valid text") from None
        if total > MAX_MULTIPART_BYTES:
            raise BodyTooLarge(f"The request body is larger than {MAX_MULTIPART_BYTES} bytes")
    return pairs, files


async def _params(request: web.Request) -> MethodParams:
    pairs = list(request.query.items())
    files: list[UploadedFile] = []
    if request.method == "POST" and request.content_type == "multipart/form-data":
        try:
            form_pairs, files = await _multipart(request)
        except (ValueError, AssertionError):
            raise InvalidRequest("The form body is malformed") from None
        pairs.extend(form_pairs)
    elif request.method == "POST" and request.content_type in FORM_TYPES:
        try:
            form = await read_form(request)
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(f"The request body is larger than {request.client_max_size} bytes") from None
        except MalformedBody as error:
            raise InvalidRequest(error.message) from None
        pairs.extend((name, value) for name, value in form.items() if isinstance(value, str))
    return MethodParams(pairs, files)


def _principal(request: web.Request) -> Principal:
    try:
        return principal_from_request(
            request, request.app[CONFIG].common.signing_key.bytes, request.app[CONFIG].common.service
        )
    except Unauthorized:
        raise InvalidToken("Invalid access token") from None


async def call_method(request: web.Request) -> web.Response:
    try:
        app, name = method_of(request.match_info.get("tail", ""), request.query.get("app"), request.query.get("method"))
    except ApiPhpError as error:
        return respond(error.body(), apiphp_format.format_or_default(request.query.get("format")), error.status)
    try:
        fmt = apiphp_format.response_format(request.query.get("format"))
    except apiphp_format.UnknownFormat as error:
        return respond(InvalidRequest(str(error)).body(), apiphp_format.DEFAULT_FORMAT, 400)
    try:
        return respond(await _answer(request, app, name), fmt, item_name=LIST_ITEMS.get(name.lower(), "item"))
    except ApiPhpError as error:
        return respond(error.body(), fmt, error.status)
    except ApiError as error:  # the shared readers' own errors (a query timeout, a value the data cannot take)
        code = apiphp_format.INVALID_PARAM if error.status < 500 else apiphp_format.SERVER_ERROR
        return respond(apiphp_format.error_body(code, error.message), fmt, error.status)


async def _answer(request: web.Request, app: str, name: str) -> object:
    principal = _principal(request)
    if app not in INSTALLED_APPS:
        raise AppNotInstalled(f"App is not installed ({app})", app=app)
    if not any(principal.can(resource, action) for resource in APP_RESOURCES[app] for action in ACTIONS):
        raise AccessDenied()
    if app not in principal.scopes:
        raise AccessDenied()
    method = find_method(app, name)
    if method is None:
        raise InvalidMethod(f"Unknown method: {app}.{name}")
    if request.method not in method.http_methods:
        raise MethodNotAllowed(f"Method {request.method} not allowed")
    if not principal.can(method.resource, method.action):
        raise AccessDenied(f"This token does not allow this method (needs {method.resource}:{method.action})")
    params = await _params(request)
    config = request.app[CONFIG]
    async with request.app[POOL].acquire() as conn:
        return await method.run(MethodContext(conn, params, config.max_page_size))
