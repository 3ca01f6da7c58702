"""Receiving an upload: the multipart file part streams into PostgreSQL in ~1 MiB chunks, never whole in memory.

The file part may come before the form fields naming the entity and mapper (browsers and the documented clients send
`file` first), so the chunks are written inside the caller's transaction and the job row joins them before commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import asyncpg
from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from services.importer import db
from shared.errors import (
    ApiError,
    BadRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
)

CHUNK_BYTES = 1024 * 1024
READ_BYTES = 64 * 1024
MAX_FIELD_BYTES = 256
MAX_FILE_NAME = 255
FORM_FIELDS = ("entity", "mapperId", "policy")
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


UPLOAD_BUSY_RETRY_AFTER = "5"


class MalformedUpload(BadRequest):
    code = "malformed_upload"


class TooManyUploads(TooManyRequests):
    code = "too_many_uploads"


class UploadDeadlineExceeded(ApiError):
    status = 408
    code = "upload_deadline_exceeded"


class UploadSlots:
    """Uploads in progress in this replica, per owner and in all: each holds a pool connection while it streams,
    so neither one user nor all of them together may take every connection."""

    def __init__(self, per_owner: int, total: int) -> None:
        self.per_owner = per_owner
        self.total = total
        self._active: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(self._active.values())

    @contextmanager
    def claim(self, owner: str) -> Iterator[None]:
        if self._active.get(owner, 0) >= self.per_owner:
            raise TooManyUploads(
                f"At most {self.per_owner} uploads at a time per user (limit uploads_per_user); wait for one to end",
                headers={"Retry-After": UPLOAD_BUSY_RETRY_AFTER},
            )
        if len(self) >= self.total:
            raise ServiceUnavailable(
                "The importer is receiving as many uploads as it can; try again shortly",
                headers={"Retry-After": UPLOAD_BUSY_RETRY_AFTER},
            )
        self._active[owner] = self._active.get(owner, 0) + 1
        try:
            yield
        finally:
            left = self._active[owner] - 1
            if left:
                self._active[owner] = left
            else:
                del self._active[owner]


@dataclass
class Upload:
    size: int = 0
    lines: int = 0
    file_name: str = ""
    has_file: bool = False
    fields: dict[str, str] = field(default_factory=dict)


def too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than the {max_bytes} bytes an import accepts", target="file")


async def open_form(request: web.Request, max_bytes: int) -> MultipartReader:
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "An import is a multipart/form-data upload with the fields file, entity and mapperId"
        )
    if request.content_length is not None and request.content_length > max_bytes + MULTIPART_OVERHEAD:
        raise too_large(max_bytes)
    try:
        return await request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise MalformedUpload("The multipart body is malformed (no boundary?)") from None


async def _read_field(part: BodyPartReader, name: str) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD_BYTES + 1):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise BadRequest(f"The form field {name} is longer than {MAX_FIELD_BYTES} bytes", target=name)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadRequest(f"The form field {name} is not UTF-8 text", target=name) from None


async def _store_file(
    part: BodyPartReader, conn: asyncpg.Connection, job_id: uuid.UUID, max_bytes: int, upload: Upload
) -> None:
    buffer = bytearray()
    seq = 0
    while chunk := await part.read_chunk(READ_BYTES):
        upload.size += len(chunk)
        if upload.size > max_bytes:
            raise too_large(max_bytes)
        buffer += chunk
        upload.lines += chunk.count(b"\n")
        if len(buffer) >= CHUNK_BYTES:
            await db.insert_chunk(conn, job_id, seq, bytes(buffer))
            seq += 1
            buffer.clear()
    if buffer:
        await db.insert_chunk(conn, job_id, seq, bytes(buffer))
        if not buffer.endswith(b"\n"):
            upload.lines += 1  # the last line has no line break


async def receive_upload(
    reader: MultipartReader, conn: asyncpg.Connection, job_id: uuid.UUID, max_bytes: int
) -> Upload:
    """Store the file's chunks and read the small fields; the caller validates and commits."""
    upload = Upload()
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise MalformedUpload("Nested multipart bodies are not accepted")
            name = part.name
            if name == "file":
                if upload.has_file:
                    raise BadRequest("Send one file per import", target="file")
                upload.has_file = True
                upload.file_name = (part.filename or "")[:MAX_FILE_NAME]
                await _store_file(part, conn, job_id, max_bytes, upload)
            elif name in FORM_FIELDS:
                if name in upload.fields:
                    raise BadRequest(f"The form field {name} is given twice", target=name)
                upload.fields[name] = await _read_field(part, name)
            else:
                raise BadRequest(
                    f"Unknown form field {str(name)[:40]!r}; expected file, entity, mapperId and optionally policy",
                    target=str(name)[:40],
                )
    except (ValueError, AssertionError, KeyError, RuntimeError, HttpProcessingError) as error:
        raise MalformedUpload(f"The multipart body is malformed: {type(error).__name__}") from None
    return upload
