"""The Mappers pages: list, create and edit a mapper, and try it first on the first lines of a CSV (pasted or
uploaded) with the importer's own conversions (POST /api/mappers/preview), so one sees how each column maps and
converts and which rows would fail before saving. The importer decides every permission and the owner rule (a
mapper is changed by its owner or an admin); the pages only hide what would be refused."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.auth import db
from services.auth.keys import POOL
from services.auth.web.forms import Form
from services.auth.web.guards import panel_form, panel_page
from services.auth.web.keys import IMPORTER
from services.auth.web.mapper_form import (
    DELIMITERS,
    ENCODINGS,
    QUOTES,
    MapperValues,
    blank_values,
    definition_of,
    delimiter_token,
    entity_key,
    importable_fields,
    quote_token,
    values_from_form,
    values_from_mapper,
    with_id,
)
from services.auth.web.multipart_forms import SampleFile, panel_multipart_form
from services.auth.web.rendering import Page, redirect
from services.auth.web.visitor import SignedInUser
from shared.catalog.model import ENTITY_SETS
from shared.errors import ApiError, BadRequest, NotFound

MAPPERS_SHOWN = 200
MAX_SAMPLE_BYTES = 64 * 1024
# A sample file is read only for its head; a larger file is refused rather than read to its end.
MAX_SAMPLE_FILE_BYTES = 16 * 1024 * 1024
FORM_LIMITS = {"sample": MAX_SAMPLE_BYTES}
FORM_FILES = {"sample_file": (MAX_SAMPLE_BYTES, MAX_SAMPLE_FILE_BYTES)}
NOTICES = {"saved": "The mapper was saved.", "deleted": "The mapper was deleted."}


def _me(user: SignedInUser) -> str:
    return f"user:{user.user_id}"


def may_change(user: SignedInUser, mapper: dict[str, Any], action: str) -> bool:
    """The importer's owner rule, so the page offers only what it would accept."""
    return user.can("mappers", action) and (user.principal.is_admin or mapper.get("owner") == _me(user))


async def _owner_names(request: web.Request, mappers: list[dict[str, Any]]) -> dict[str, str]:
    """user:<id> owners by username; apps (client:<id>) and the platform's own mappers are named as they are."""
    owners = {str(mapper.get("owner") or "") for mapper in mappers}
    ids = {int(owner[5:]) for owner in owners if owner.startswith("user:") and owner[5:].isdigit()}
    names: dict[str, str] = {}
    async with request.app[POOL].acquire() as conn:
        for user_id in sorted(ids):
            row = await db.get_user(conn, user_id)
            if row is not None:
                names[f"user:{user_id}"] = row["username"]
    return names


@panel_page
async def list_mappers(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("mappers", "read")
    entity = request.query.get("entity", "")
    query = {"limit": str(MAPPERS_SHOWN)}
    if entity:
        if entity not in ENTITY_SETS:
            raise BadRequest("Choose an entity from the list")
        query["entity"] = entity
    mappers = list((await request.app[IMPORTER].call(user.principal, "GET", "/api/mappers", query=query))["value"])
    context = {
        "title": "Mappers",
        "mappers": mappers,
        "owners": await _owner_names(request, mappers),
        "me": _me(user),
        "entities": sorted(ENTITY_SETS),
        "chosen_entity": entity,
        "notice": NOTICES.get(request.query.get("done", "")),
    }
    return Page("mappers/list.html", context)


def _form_page(
    user: SignedInUser,
    values: MapperValues,
    *,
    mapper: dict[str, Any] | None,
    sample: str = "",
    preview: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Page:
    editable = user.can("mappers", "create") if mapper is None else may_change(user, mapper, "update")
    context = {
        "title": "New mapper" if mapper is None else f"Mapper {mapper['id']}",
        "values": values,
        "mapper": mapper,
        "fields": importable_fields(values.entity),
        "key_field": entity_key(values.entity),
        "delimiters": DELIMITERS,
        "quotes": QUOTES,
        "encodings": ENCODINGS,
        "delimiter_token": delimiter_token(values.delimiter),
        "quote_token": quote_token(values.quote),
        "editable": editable,
        "deletable": mapper is not None and may_change(user, mapper, "delete"),
        "action": "/panel/mappers" if mapper is None else f"/panel/mappers/{mapper['id']}",
        "sample": sample,
        "preview": preview,
        "max_sample_kib": MAX_SAMPLE_BYTES // 1024,
        "error": error,
        "notice": notice,
    }
    return Page("mappers/form.html", context, status)


@panel_page
async def new_mapper(request: web.Request, user: SignedInUser) -> Page:
    user.principal.require("mappers", "create")
    entity = request.query.get("entity", "")
    if entity not in ENTITY_SETS:
        choose = {"title": "New mapper", "entities": sorted(ENTITY_SETS), "chosen_entity": entity}
        return Page("mappers/choose_entity.html", choose, 400 if entity else 200)
    return _form_page(user, blank_values(entity), mapper=None)


async def _mapper(request: web.Request, user: SignedInUser, mapper_id: str) -> dict[str, Any]:
    user.principal.require("mappers", "read")
    if not mapper_id or len(mapper_id) > 64 or not mapper_id.replace("-", "").replace("_", "").isalnum():
        raise NotFound("No such mapper")
    return dict(await request.app[IMPORTER].call(user.principal, "GET", f"/api/mappers/{mapper_id}"))


@panel_page
async def edit_mapper(request: web.Request, user: SignedInUser) -> Page:
    mapper = await _mapper(request, user, request.match_info["id"])
    notice = NOTICES.get(request.query.get("done", ""))
    return _form_page(user, values_from_mapper(mapper), mapper=mapper, notice=notice)


def _sample_text(form: Form, files: dict[str, SampleFile], encoding: str) -> str:
    """The pasted lines, or the head of the chosen file decoded as the mapper says, cut at its last whole line."""
    chosen = files.get("sample_file")
    if chosen is None:
        return (form.get("sample") or "").replace("\r\n", "\n")
    head = chosen.head
    if chosen.truncated and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    return head.decode(encoding if encoding in ENCODINGS else "utf-8", errors="replace").replace("\r\n", "\n")


async def _submit(
    request: web.Request, user: SignedInUser, form: Form, files: dict[str, SampleFile], mapper: dict[str, Any] | None
) -> Page | web.StreamResponse:
    entity = form.get("entity") if mapper is None else str(mapper["entity"])
    if entity not in ENTITY_SETS:
        raise BadRequest("Choose an entity from the list")
    values = values_from_form(form, entity)
    if mapper is not None:
        values = with_id(values, str(mapper["id"]))
    definition = definition_of(values)
    sample = _sample_text(form, files, values.encoding)
    importer = request.app[IMPORTER]
    if form.get("action") == "preview":
        if not sample.strip():
            missing = "Paste the first lines of a CSV file, or choose one, to preview"
            return _form_page(user, values, mapper=mapper, error=missing, status=400)
        body = {"entity": entity, "name": values.name, "definition": definition, "sample": sample}
        try:
            preview = await importer.call(user.principal, "POST", "/api/mappers/preview", body=body)
        except BadRequest as refused:
            return _form_page(user, values, mapper=mapper, sample=sample, error=refused.message, status=400)
        return _form_page(user, values, mapper=mapper, sample=sample, preview=preview)
    body = {"entity": entity, "name": values.name, "definition": definition}
    try:
        if mapper is None:
            user.principal.require("mappers", "create")
            if values.id:
                body["id"] = values.id
            saved = await importer.call(user.principal, "POST", "/api/mappers", body=body)
        else:
            saved = await importer.call(user.principal, "PUT", f"/api/mappers/{mapper['id']}", body=body)
    except ApiError as refused:
        if refused.status not in (400, 409):
            raise
        return _form_page(user, values, mapper=mapper, sample=sample, error=refused.message, status=refused.status)
    return redirect(f"/panel/mappers/{saved['id']}?done=saved")


@panel_multipart_form(FORM_LIMITS, FORM_FILES)
async def create_mapper(
    request: web.Request, user: SignedInUser, form: Form, files: dict[str, SampleFile]
) -> Page | web.StreamResponse:
    user.principal.require("mappers", "read" if form.get("action") == "preview" else "create")
    return await _submit(request, user, form, files, None)


@panel_multipart_form(FORM_LIMITS, FORM_FILES)
async def save_mapper(
    request: web.Request, user: SignedInUser, form: Form, files: dict[str, SampleFile]
) -> Page | web.StreamResponse:
    mapper = await _mapper(request, user, request.match_info["id"])
    return await _submit(request, user, form, files, mapper)


@panel_form
async def delete_mapper(request: web.Request, user: SignedInUser, form: Form) -> web.StreamResponse:
    mapper = await _mapper(request, user, request.match_info["id"])
    await request.app[IMPORTER].call(user.principal, "DELETE", f"/api/mappers/{mapper['id']}")
    return redirect("/panel/mappers?done=deleted")
