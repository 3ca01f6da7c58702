"""api.php's special cases at the gateway, in one place: its access token in a POST form field, and its own error
body (docs/apiphp.md).

A small urlencoded or multipart POST is read whole so its access_token field can be found and removed before the
body is forwarded; anything larger streams on untouched. Refusals are rendered as api.php renders them:
{"error": CODE, "error_description": TEXT} in the client's format (json or xml), with Webasyst's statuses.
"""

from __future__ import annotations

import asyncio
import email.message
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

from aiohttp import web

from services.gateway.challenges import bearer_challenge
from services.gateway.credentials import AmbiguousCredentials
from shared import apiphp_format
from shared.errors import ApiError, BadRequest

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_CREDENTIAL_BYTES = 64 * 1024
_PART_NAME = re.compile(r';\s*name="([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class BufferedForm:
    """A small form body read for its credential field: the token, and the body to forward without that field."""

    token: str | None
    body: bytes

    def __repr__(self) -> str:
        return f"BufferedForm(bytes={len(self.body)}, token={'<set>' if self.token else None})"


BUFFERED_FORM = web.RequestKey("gateway_buffered_form", BufferedForm)


def _one_token(values: list[str], field: str) -> str | None:
    if len(values) > 1:
        raise AmbiguousCredentials(f"Send the {field} form field once")
    return values[0] if values else None


def strip_urlencoded(raw: bytes, field: str) -> BufferedForm:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The form body is not valid UTF-8") from None
    kept: list[str] = []
    tokens: list[str] = []
    for part in text.split("&"):
        name, _, value = part.partition("=")
        if unquote_plus(name) == field:
            tokens.append(unquote_plus(value))
        elif part:
            kept.append(part)
    return BufferedForm(_one_token(tokens, field), "&".join(kept).encode())


def strip_multipart(raw: bytes, content_type: str, field: str) -> BufferedForm:
    """Removes the field's part byte-exactly, leaving every other part (files included) as sent."""
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise BadRequest("The multipart body has no boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    segments = raw.split(delimiter)
    kept = [segments[0]]
    tokens: list[str] = []
    for segment in segments[1:]:
        head_end = segment.find(b"\r\n\r\n")
        if segment.startswith(b"--") or head_end < 0:
            kept.append(segment)
            continue
        headers = segment[:head_end].decode("latin-1")
        disposition = next(
            (line for line in headers.split("\r\n") if line.lower().startswith("content-disposition:")), ""
        )
        name = _PART_NAME.search(disposition)
        if name is None or name.group(1) != field:
            kept.append(segment)
            continue
        value = segment[head_end + 4 :].removesuffix(b"\r\n")
        try:
            tokens.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(f"The {field} form field is not valid UTF-8") from None
    return BufferedForm(_one_token(tokens, field), delimiter.join(kept))


async def read_form_credential(request: web.Request, field: str, timeout: float) -> BufferedForm | None:
    """The body of a small form POST, read whole (at most MAX_FORM_CREDENTIAL_BYTES, declared up front) so its
    credential field can be found; None for anything else, which streams on untouched (a larger upload must carry
    its token in the Authorization header or the query)."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return None
    declared = request.headers.get("Content-Length", "")
    if not declared.isdigit() or len(declared) > 18 or int(declared) > MAX_FORM_CREDENTIAL_BYTES:
        return None
    try:
        async with asyncio.timeout(timeout):
            raw = await request.read()
    except TimeoutError:
        raise BadRequest(f"The request body stalled for more than {timeout:g} s") from None
    if request.content_type == FORM_TYPES[0]:
        return strip_urlencoded(raw, field)
    return strip_multipart(raw, request.headers.get("Content-Type", ""), field)


def apiphp_envelope(error: ApiError, request: web.BaseRequest) -> web.StreamResponse:
    """api.php's {"error": CODE, "error_description": TEXT}, in the client's format=json|xml, with Webasyst's
    statuses (waAPIController::checkToken): a missing token 400 token_required, an unknown or revoked one 401
    invalid_token, 403 access_denied."""
    headers = {name: value for name, value in error.headers.items() if name.lower() != "www-authenticate"}
    status = error.status
    if error.code == "missing_credential":
        status, code, description = 400, apiphp_format.TOKEN_REQUIRED, "Access token is missing"
    elif status == 401:
        code, description = apiphp_format.INVALID_TOKEN, "Invalid access token"
        headers["WWW-Authenticate"] = bearer_challenge("invalid_token")
    elif status in (400, 405, 413, 415):
        code, description = apiphp_format.INVALID_REQUEST, error.message
    elif status == 403:
        code, description = apiphp_format.ACCESS_DENIED, error.message
    elif status == 404:
        code, description = apiphp_format.INVALID_METHOD, error.message
    else:
        code, description = error.code, error.message
    body, content_type = apiphp_format.render(
        apiphp_format.error_body(code, description), apiphp_format.format_or_default(request.query.get("format"))
    )
    return web.Response(status=status, body=body, content_type=content_type, charset="utf-8", headers=headers)
