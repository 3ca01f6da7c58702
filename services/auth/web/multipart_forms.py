"""Forms that carry a file (an import's CSV, a mapper's sample): multipart/form-data, read part by part with every
part bounded, never the whole body at once."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from services.auth.web.forms import MAX_FIELDS, Form
from services.auth.web.guards import EXPIRED_FORM, Answer, Handler, answer, error_page
from services.auth.web.rendering import redirect, render
from services.auth.web.signin import SignInRequired, require_user
from services.auth.web.visitor import SignedInUser
from shared.errors import ApiError, BadRequest, PayloadTooLarge, UnsupportedMediaType

MULTIPART_TYPE = "multipart/form-data"
MAX_FIELD_BYTES = 2048
READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class SampleFile:
    """The first bytes of an uploaded file (what a preview needs), and whether there was more."""

    name: str
    head: bytes
    truncated: bool


async def open_multipart(request: web.Request) -> MultipartReader:
    if request.content_type != MULTIPART_TYPE:
        raise UnsupportedMediaType(f"Send the form as {MULTIPART_TYPE}")
    try:
        return await request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise BadRequest("The form could not be read") from None


async def next_part(reader: MultipartReader) -> BodyPartReader | None:
    try:
        part = await reader.next()
    except (ValueError, AssertionError, KeyError, RuntimeError, HttpProcessingError):
        raise BadRequest("The form could not be read") from None
    if part is not None and not isinstance(part, BodyPartReader):
        raise BadRequest("The form could not be read")
    return part


async def read_text(part: BodyPartReader, limit: int = MAX_FIELD_BYTES) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(READ_BYTES):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"The field {str(part.name)[:40]} is longer than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The form is not UTF-8 text") from None


async def file_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(READ_BYTES):
        yield chunk


async def _read_head(part: BodyPartReader, keep: int, limit: int) -> SampleFile:
    head = bytearray()
    seen = 0
    while chunk := await part.read_chunk(READ_BYTES):
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLarge(f"Choose a file of at most {limit // (1024 * 1024)} MiB, or paste its first lines")
        if len(head) < keep:
            head += chunk[: keep - len(head)]
    return SampleFile(part.filename or "", bytes(head), seen > keep)


async def read_multipart_form(
    request: web.Request, long_fields: Mapping[str, int], files: Mapping[str, tuple[int, int]]
) -> tuple[Form, dict[str, SampleFile]]:
    """The form's text fields (long_fields: name -> byte limit, others MAX_FIELD_BYTES) and, for each file field
    (name -> (bytes kept, most bytes read)), its first bytes."""
    reader = await open_multipart(request)
    pairs: list[tuple[str, str]] = []
    heads: dict[str, SampleFile] = {}
    while (part := await next_part(reader)) is not None:
        if len(pairs) + len(heads) >= MAX_FIELDS:
            raise BadRequest("The form has too many fields")
        name = part.name or ""
        if name in files:
            if part.filename:
                heads[name] = await _read_head(part, *files[name])
            else:
                await part.release()
        else:
            pairs.append((name, await read_text(part, long_fields.get(name, MAX_FIELD_BYTES))))
    return Form(tuple(pairs)), heads


MultipartView = Callable[[web.Request, SignedInUser, Form, dict[str, SampleFile]], Awaitable[Answer]]


def panel_multipart_form(
    long_fields: Mapping[str, int], files: Mapping[str, tuple[int, int]]
) -> Callable[[MultipartView], Handler]:
    """As guards.panel_form, for a form with files: a signed-in session, the CSRF token, errors as pages."""

    def decorate(view: MultipartView) -> Handler:
        @functools.wraps(view)
        async def form_post(request: web.Request) -> web.StreamResponse:
            try:
                visitor, user = await require_user(request)
            except SignInRequired as required:
                return redirect(required.location)
            try:
                form, heads = await read_multipart_form(request, long_fields, files)
                if not visitor.csrf_matches(form.get("csrf_token")):
                    return await render(request, error_page(403, EXPIRED_FORM))
                return await answer(request, await view(request, user, form, heads))
            except ApiError as error:
                return await render(request, error_page(error.status, error.message))

        return form_post

    return decorate
