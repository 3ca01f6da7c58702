"""Thin HTTP handlers: read the request, check the principal's permissions, call the domain, shape the answer."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.importer import announcing, db, idempotency, preview
from services.importer.keys import CONFIG, OUTBOX, POOL, UPLOAD_SLOTS, WAITERS
from services.importer.mapper_inputs import check_mapper_id, new_mapper_id, read_mapper_input, require_entity
from services.importer.mappers import parse_definition
from services.importer.uploads import UploadDeadlineExceeded, open_form, receive_upload
from services.importer.views import job_view, mapper_view, status_url
from services.importer.waiting import stream_until_end, wait_for_end
from shared import outbox
from shared.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from shared.messages import ImportJobRequested
from shared.principal import Principal, principal_from_request

log = logging.getLogger(__name__)

KEPT_ERRORS_SHOWN = 1000
MAX_LIST = 200
POLICIES = ("skip", "all_or_nothing")


class UnknownMapper(BadRequest):
    code = "unknown_mapper"


class MapperEntityMismatch(BadRequest):
    code = "mapper_entity_mismatch"


class EmptyFile(BadRequest):
    code = "empty_file"


def _principal(request: web.Request) -> Principal:
    return principal_from_request(
        request, request.app[CONFIG].common.signing_key.bytes, request.app[CONFIG].common.service
    )


def requester(principal: Principal) -> str:
    """Who owns what a request makes: an identity, never a display name (an app's name is anyone's to copy)."""
    if principal.user_id is not None:
        return f"user:{principal.user_id}"
    if principal.client_id is not None:
        return f"client:{principal.client_id}"
    return f"service:{principal.credential_id}"


def _check_mapper_owner(principal: Principal, mapper: Any) -> None:
    if not principal.is_admin and (mapper["owner"] is None or mapper["owner"] != requester(principal)):
        raise Forbidden("Only the mapper's owner or an admin may change it")


def _job_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["job_id"])
    except ValueError:
        raise NotFound("No such import job") from None


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIST}", target="limit")
    return int(raw)


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (ValueError, LookupError):
        raise BadRequest("The body is not valid JSON") from None


# Imports ------------------------------------------------------------------------------------------------------


async def post_import(request: web.Request) -> web.StreamResponse:
    principal = _principal(request)
    principal.require("imports", "create")
    owner = requester(principal)
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    if key is not None:
        first = await idempotency.job_for_key(request.app[POOL], owner, key)
        if first is not None:
            return await _answer_first_job(request, first)
    with request.app[UPLOAD_SLOTS].claim(owner):
        deadline = asyncio.timeout(request.app[CONFIG].upload_deadline)
        try:
            async with deadline:
                job_id = await _receive_import(request, principal, key)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise UploadDeadlineExceeded(
                f"The upload took longer than the {request.app[CONFIG].upload_deadline:g} s an upload may take "
                "(limit upload_deadline)",
                target="file",
            ) from None
        except idempotency.KeyTaken:
            # A concurrent retry with the same key committed first: this upload was rolled back.
            first = await idempotency.job_for_key(request.app[POOL], owner, key or "")
            if first is None:
                raise ServiceUnavailable("The import could not be recorded; try again") from None
            return await _answer_first_job(request, first)
    return await _queue_import(request, job_id)


async def _answer_first_job(request: web.Request, job_id: uuid.UUID) -> web.StreamResponse:
    """The answer a retried upload gets: the first job's, waited for as the first call would have been."""
    if await db.get_job(request.app[POOL], job_id) is None:
        raise NotFound("No such import job")
    async with request.app[WAITERS].watching(job_id) as ended:
        return await _await_job(request, job_id, ended)


async def _receive_import(request: web.Request, principal: Principal, key: str | None) -> uuid.UUID:
    """Stream the upload into PostgreSQL and record its job and the job's message (the outbox), in one transaction."""
    config, pool = request.app[CONFIG], request.app[POOL]
    reader = await open_form(request, config.max_upload_bytes)
    job_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        upload = await receive_upload(reader, conn, job_id, config.max_upload_bytes)
        for name in ("entity", "mapperId"):
            if not upload.fields.get(name):
                raise BadRequest(f"The form field {name} is required", target=name)
        if not upload.has_file:
            raise BadRequest("The form field file is required", target="file")
        if upload.size == 0:
            raise EmptyFile("The file is empty", target="file")
        entity = require_entity(upload.fields["entity"])
        policy = upload.fields.get("policy") or "skip"
        if policy not in POLICIES:
            raise BadRequest("policy must be skip or all_or_nothing", target="policy")
        mapper = await db.get_mapper(conn, upload.fields["mapperId"])
        if mapper is None:
            raise UnknownMapper(f"No mapper with id {upload.fields['mapperId'][:64]!r}", target="mapperId")
        if mapper["entity"] != entity.name:
            raise MapperEntityMismatch(
                f"Mapper {mapper['id']!r} is for {mapper['entity']}, not {entity.name}", target="mapperId"
            )
        if not mapper["definition"].get("updateOnly", False):
            principal.require(entity.resource, "create")
        if mapper["definition"].get("key", entity.key) is not None:
            principal.require(entity.resource, "update")
        await db.insert_job(
            conn,
            job_id=job_id,
            entity=entity.name,
            mapper_id=mapper["id"],
            definition=mapper["definition"],
            policy=policy,
            file_name=upload.file_name,
            size_bytes=upload.size,
            lines_total=upload.lines,
            requested_by=requester(principal),
        )
        request_message = ImportJobRequested(job_id=str(job_id), entity=entity.name, mapper_id=mapper["id"])
        await outbox.write(conn, db.JOB_OUTBOX, request_message)
        if key is not None:
            await idempotency.claim_key(conn, requester(principal), key, job_id)
    return job_id


async def _queue_import(request: web.Request, job_id: uuid.UUID) -> web.StreamResponse:
    """The job and its message are committed; the outbox publisher sends it. Wait for the end unless asked not to."""
    async with request.app[WAITERS].watching(job_id) as ended:
        request.app[OUTBOX].wake()  # the commit's notification wakes it too; this saves the round trip
        return await _await_job(request, job_id, ended)


async def _await_job(request: web.Request, job_id: uuid.UUID, ended: asyncio.Event) -> web.StreamResponse:
    """Without Prefer: respond-async, wait for the job's end (clients read the counts from a 200, docs/import-api.md):
    a job that ends within the first keep-alive interval gets a plain answer; a longer one a 200 whose body
    starts with keep-alive spaces. With it, or with IMPORT_WAIT_SECONDS 0, 202 and the status URL at once."""
    config, pool = request.app[CONFIG], request.app[POOL]
    respond_async = "respond-async" in request.headers.get("Prefer", "").lower()
    if not respond_async and config.import_wait_seconds > 0:
        first_wait = min(config.import_wait_seconds, config.import_keepalive_seconds)
        if await wait_for_end(pool, job_id, ended, first_wait):
            return await _job_response(request, job_id)
        if config.import_wait_seconds > first_wait:
            remaining = config.import_wait_seconds - first_wait
            return await stream_until_end(
                request,
                pool,
                job_id,
                ended,
                remaining,
                config.import_keepalive_seconds,
                lambda: _job_view(request, job_id),
            )
    location = status_url(job_id)
    headers = {"Location": location}
    if respond_async:
        headers["Preference-Applied"] = "respond-async"
    job = await db.get_job(pool, job_id)
    status = job["status"] if job is not None else "queued"
    return web.json_response({"id": str(job_id), "status": status, "statusUrl": location}, status=202, headers=headers)


async def _job_view(request: web.Request, job_id: uuid.UUID) -> dict[str, Any]:
    async with request.app[POOL].acquire() as conn:
        job = await db.get_job(conn, job_id)
        if job is None:
            raise NotFound("No such import job")
        errors = await db.job_errors(conn, job_id, KEPT_ERRORS_SHOWN)
    return job_view(job, errors)


async def _job_response(request: web.Request, job_id: uuid.UUID) -> web.Response:
    return web.json_response(await _job_view(request, job_id))


async def _visible_job(request: web.Request, principal: Principal, job_id: uuid.UUID) -> None:
    job = await db.get_job(request.app[POOL], job_id)
    # Someone else's job answers like a missing one: ids of other users' imports are not disclosed.
    if job is None or (not principal.is_admin and job["requested_by"] != requester(principal)):
        raise NotFound("No such import job")


def _moment(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw[:40])
    except ValueError:
        raise BadRequest(f"{name} must be a date or time in ISO 8601, e.g. 2026-01-31T12:00:00Z", target=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _job_filter(request: web.Request, principal: Principal) -> db.JobFilter:
    status = request.query.get("status") or None
    if status is not None and status not in db.STATUSES:
        raise BadRequest(f"status must be one of {', '.join(db.STATUSES)}", target="status")
    entity = request.query.get("entity") or None
    return db.JobFilter(
        requested_by=None if principal.is_admin else requester(principal),
        status=status,
        entity=require_entity(entity).name if entity is not None else None,
        since=_moment(request, "since"),
        until=_moment(request, "until"),
    )


async def list_imports(request: web.Request) -> web.Response:
    principal = _principal(request)
    principal.require("imports", "read")
    where = _job_filter(request, principal)
    async with request.app[POOL].acquire() as conn:
        jobs = await db.list_jobs(conn, where, _limit(request))
    return web.json_response({"value": [job_view(job) for job in jobs]})


async def get_import(request: web.Request) -> web.Response:
    principal = _principal(request)
    principal.require("imports", "read")
    job_id = _job_id(request)
    await _visible_job(request, principal, job_id)
    return await _job_response(request, job_id)


async def cancel_import(request: web.Request) -> web.Response:
    principal = _principal(request)
    principal.require("imports", "create")
    job_id = _job_id(request)
    await _visible_job(request, principal, job_id)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        cancelled = await db.cancel_job(conn, job_id)
        job = await db.get_job(conn, job_id)
        if not cancelled or job is None:
            status = job["status"] if job else "gone"
            raise BadRequest(f"Only a queued or running job can be cancelled; this one is {status}")
        await announcing.announce_cancelled(conn, job)
    return await _job_response(request, job_id)


# Mappers ------------------------------------------------------------------------------------------------------


async def list_mappers(request: web.Request) -> web.Response:
    _principal(request).require("mappers", "read")
    entity = request.query.get("entity")
    if entity is not None:
        entity = require_entity(entity).name
    async with request.app[POOL].acquire() as conn:
        mappers = await db.list_mappers(conn, entity, _limit(request))
    return web.json_response({"value": [mapper_view(mapper) for mapper in mappers]})


async def create_mapper(request: web.Request) -> web.Response:
    principal = _principal(request)
    principal.require("mappers", "create")
    body = await _json_body(request)
    given = read_mapper_input(body)
    mapper_id = check_mapper_id(body["id"]) if "id" in body else new_mapper_id(given.entity)
    async with request.app[POOL].acquire() as conn:
        mapper = await db.insert_mapper(
            conn, mapper_id, given.entity.name, given.name, given.definition, requester(principal)
        )
    return web.json_response(mapper_view(mapper), status=201, headers={"Location": f"/api/mappers/{mapper_id}"})


async def preview_mapper(request: web.Request) -> web.Response:
    """A mapper tried on a sample before it is saved: nothing is written, so mappers:read suffices."""
    _principal(request).require("mappers", "read")
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("sample"), str):
        raise BadRequest("The body must be a JSON object with entity, definition and sample (CSV text)")
    given = read_mapper_input({name: value for name, value in body.items() if name != "sample"})
    tried = await preview.preview_mapper(parse_definition(given.entity, given.definition), body["sample"])
    return web.json_response({"entity": given.entity.name, **tried.to_dict()})


async def get_mapper(request: web.Request) -> web.Response:
    _principal(request).require("mappers", "read")
    async with request.app[POOL].acquire() as conn:
        mapper = await db.get_mapper(conn, request.match_info["mapper_id"])
    if mapper is None:
        raise NotFound("No such mapper")
    return web.json_response(mapper_view(mapper))


async def update_mapper(request: web.Request) -> web.Response:
    principal = _principal(request)
    principal.require("mappers", "update")
    body = await _json_body(request)
    mapper_id = request.match_info["mapper_id"]
    if isinstance(body, dict) and body.get("id", mapper_id) != mapper_id:
        raise BadRequest("The id in the body differs from the one in the path", target="id")
    given = read_mapper_input(body)
    async with request.app[POOL].acquire() as conn:
        current = await db.get_mapper(conn, mapper_id)
        if current is None:
            raise NotFound("No such mapper")
        _check_mapper_owner(principal, current)  # the owner never changes, so checking first is enough
        mapper = await db.update_mapper(conn, mapper_id, given.entity.name, given.name, given.definition)
    if mapper is None:
        raise NotFound("No such mapper")
    return web.json_response(mapper_view(mapper))


async def delete_mapper(request: web.Request) -> web.Response:
    principal = _principal(request)
    principal.require("mappers", "delete")
    async with request.app[POOL].acquire() as conn:
        current = await db.get_mapper(conn, request.match_info["mapper_id"])
        if current is None:
            raise NotFound("No such mapper")
        _check_mapper_owner(principal, current)
        if not await db.delete_mapper(conn, request.match_info["mapper_id"]):
            raise NotFound("No such mapper")
    return web.Response(status=204)
