"""The Imports pages (the Import API as pages): upload a CSV with an entity, a mapper and an update policy,
follow the job live, cancel it, and list the jobs with filters. Every call goes to the importer as the signed-in
user, so the importer's permissions (imports:create, imports:read, <entity>:create/update) decide."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from services.auth.web.forms import Form
from services.auth.web.guards import EXPIRED_FORM, error_page, panel_form, panel_page
from services.auth.web.import_progress import import_progress
from services.auth.web.keys import IMPORTER
from services.auth.web.multipart_forms import file_chunks, next_part, open_multipart, read_text
from services.auth.web.rendering import Page, redirect, render, secret_json
from services.auth.web.signin import SignInRequired, require_user
from services.auth.web.visitor import SignedInUser
from shared.catalog.model import ENTITY_SETS
from shared.errors import ApiError, BadRequest, NotFound

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
POLICIES = (
    ("skip", "Skip rows with errors, import the rest"),
    ("all_or_nothing", "All or nothing: import nothing if any row has an error"),
)
JOBS_SHOWN = 100
MAPPERS_SHOWN = 200
UPLOAD_FIELDS = ("csrf_token", "entity", "mapperId", "policy")
NOTICES = {"cancelled": "The import was cancelled; nothing of it stays in the catalog."}


def entities() -> list[str]:
    return sorted(ENTITY_SETS)


def _job_path(job_id: str) -> str:
    return f"/panel/imports/{job_id}"


def _checked_job_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise NotFound("No such import job") from None


def _day(raw: str, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise BadRequest(f"{name} must be a date such as 2026-01-31") from None


@panel_page
async def list_imports(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("imports", "read")
    chosen = {name: request.query.get(name, "")[:40] for name in ("status", "entity", "from", "to")}
    context: dict[str, Any] = {
        "title": "Imports",
        "chosen": chosen,
        "statuses": STATUSES,
        "entities": entities(),
        "jobs": [],
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    query = {"limit": str(JOBS_SHOWN)}
    try:
        if chosen["status"]:
            if chosen["status"] not in STATUSES:
                raise BadRequest("Choose a state from the list")
            query["status"] = chosen["status"]
        if chosen["entity"]:
            if chosen["entity"] not in ENTITY_SETS:
                raise BadRequest("Choose an entity from the list")
            query["entity"] = chosen["entity"]
        since, until = _day(chosen["from"], "From"), _day(chosen["to"], "To")
        if since is not None:
            query["since"] = datetime.combine(since, time(), UTC).isoformat()
        if until is not None:  # the whole day named
            query["until"] = datetime.combine(until + timedelta(days=1), time(), UTC).isoformat()
    except BadRequest as error:
        return Page("imports/list.html", {**context, "error": error.message}, 400)
    answer = await request.app[IMPORTER].call(user.principal, "GET", "/api/imports", query=query)
    jobs = answer["value"]
    now = datetime.now(UTC)
    context["jobs"] = [{**job, "progress": import_progress(job, now)} for job in jobs]
    context["filtered"] = any(chosen.values())
    return Page("imports/list.html", context)


async def _mappers(request: web.Request, user: SignedInUser) -> list[dict[str, Any]] | None:
    """The mappers to choose from; None when the user may not list them (they type the mapper's id)."""
    if not user.can("mappers", "read"):
        return None
    query = {"limit": str(MAPPERS_SHOWN)}
    return list((await request.app[IMPORTER].call(user.principal, "GET", "/api/mappers", query=query))["value"])


async def _upload_page(
    request: web.Request, user: SignedInUser, chosen: dict[str, str], error: str | None = None, status: int = 200
) -> Page:
    mappers = await _mappers(request, user)
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for mapper in mappers or []:
        by_entity.setdefault(mapper["entity"], []).append(mapper)
    context = {
        "title": "Import a CSV file",
        "entities": entities(),
        "mappers_by_entity": by_entity,
        "mappers_listed": mappers is not None,
        "policies": POLICIES,
        "chosen": chosen,
        "error": error,
    }
    return Page("imports/new.html", context, status)


@panel_page
async def new_import(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("imports", "create")
    chosen = {
        "entity": request.query.get("entity", "")[:40],
        "mapperId": request.query.get("mapper", "")[:64],
        "policy": "skip",
    }
    return await _upload_page(request, user, chosen)


async def create_import(request: web.Request) -> web.StreamResponse:
    """The upload: the small fields come first (the form puts the file last), the CSRF token is checked, then the
    file streams on to the importer's POST /api/import as it arrives, and the browser goes to the job's page."""
    try:
        visitor, user = await require_user(request)
    except SignInRequired as required:
        return redirect(required.location)
    fields: dict[str, str] = {}
    try:
        user.principal.require("imports", "create")
        reader = await open_multipart(request)
        part = await next_part(reader)
        while part is not None and part.name != "file":
            if part.name not in UPLOAD_FIELDS or part.name in fields:
                raise BadRequest("The form could not be read")
            fields[str(part.name)] = (await read_text(part)).strip()
            part = await next_part(reader)
        if not visitor.csrf_matches(fields.get("csrf_token")):
            return await render(request, error_page(403, EXPIRED_FORM))
        chosen = {name: fields.get(name, "") for name in ("entity", "mapperId", "policy")}
        if part is None or not part.filename:
            return await render(request, await _upload_page(request, user, chosen, "Choose a CSV file to import", 400))
        sent = {name: value for name, value in chosen.items() if value}
        job = await request.app[IMPORTER].upload(user.principal, sent, part.filename, file_chunks(part))
    except ApiError as error:
        if error.status in (400, 408, 413, 415) and "csrf_token" in fields:
            chosen = {name: fields.get(name, "") for name in ("entity", "mapperId", "policy")}
            page = await _upload_page(request, user, chosen, error.message, error.status)
            return await render(request, page)
        return await render(request, error_page(error.status, error.message))
    return redirect(_job_path(_checked_job_id(str(job["id"]))))


async def _job(request: web.Request, user: SignedInUser) -> dict[str, Any]:
    user.principal.require("imports", "read")
    job_id = _checked_job_id(request.match_info["id"])
    return dict(await request.app[IMPORTER].call(user.principal, "GET", f"/api/imports/{job_id}"))


@panel_page
async def show_import(request: web.Request, user: SignedInUser) -> Page:
    job = await _job(request, user)
    progress = import_progress(job, datetime.now(UTC))
    context = {
        "title": f"Import of {job['fileName'] or 'a CSV file'}",
        "job": job,
        "progress": progress,
        "can_cancel": not progress.ended and user.can("imports", "create"),
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("imports/job.html", context)


@panel_page
async def import_progress_json(request: web.Request, user: SignedInUser) -> web.StreamResponse:
    """What the job page's script polls: the same words the page shows, without reloading it."""
    job = await _job(request, user)
    return secret_json(import_progress(job, datetime.now(UTC)).to_dict())


@panel_form
async def cancel_import(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    job_id = _checked_job_id(request.match_info["id"])
    await request.app[IMPORTER].call(user.principal, "POST", f"/api/imports/{job_id}/cancel")
    return redirect(f"{_job_path(job_id)}?done=cancelled")
