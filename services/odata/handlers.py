"""Thin OData handlers: check the principal, read the request into a query, answer it."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from aiohttp import web

from services.odata import reading
from services.odata.config import Config
from services.odata.keys import CONFIG, POOL
from services.odata.metadata import metadata_xml, service_document
from services.odata.query import Expand, ODataQuery, QueryOptionError, parse_query
from services.odata.query_language import parse_query_document
from services.odata.query_runner import authorize, run_plans
from shared.catalog.model import ENTITY_SETS, EntitySet
from shared.errors import BadRequest, NotFound, NotImplementedFeature, PayloadTooLarge
from shared.principal import Principal, principal_from_request

ODATA_HEADERS = {"OData-Version": "4.0"}
JSON_CONTENT_TYPE = "application/json;odata.metadata=minimal;charset=utf-8"
_RESOURCE_PATH = re.compile(r"^(?P<set>[A-Za-z_][A-Za-z0-9_]{0,63})(?:\((?P<key>[^)]{0,64})\))?(?P<rest>/.*)?$")
_KEY = re.compile(r"^(?:id=)?(?P<value>\d{1,18})$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")


def authenticate(request: web.Request) -> Principal:
    config = request.app[CONFIG]
    return principal_from_request(request, config.common.signing_key.bytes, config.common.service)


def odata_base(request: web.Request, config: Config) -> str:
    if config.public_base_url:
        return f"{config.public_base_url}/odata"
    proto = request.headers.get("X-Forwarded-Proto", request.scheme)
    proto = proto if proto in ("http", "https") else "http"
    host = request.host if _HOST.match(request.host or "") else "127.0.0.1:8080"
    return f"{proto}://{host}/odata"


def json_response(body: dict[str, object], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, separators=(",", ":")),
        content_type=None,
        headers={**ODATA_HEADERS, "Content-Type": JSON_CONTENT_TYPE},
    )


async def get_service_document(request: web.Request) -> web.Response:
    authenticate(request)
    return json_response(service_document(odata_base(request, request.app[CONFIG])))


async def get_metadata(request: web.Request) -> web.Response:
    authenticate(request)
    return web.Response(body=metadata_xml(), content_type="application/xml", charset="utf-8", headers=ODATA_HEADERS)


def readable_query(request: web.Request, principal: Principal, entity: EntitySet) -> ODataQuery:
    principal.require(entity.resource, "read")
    names = [name for name, _ in request.query.items()]
    repeated = next((name for name in names if names.count(name) > 1), None)
    if repeated is not None:
        raise QueryOptionError(f"The query option {repeated[:64]} is given more than once", target=repeated[:64])
    query = parse_query(entity, request.query, request.query_string)
    for resource in sorted(query.resources):  # $expand targets, navigation paths and lambdas in $filter/$orderby
        principal.require(resource, "read")
    return query


def expanded_names(expands: tuple[Expand, ...]) -> list[str]:
    """The $expand part of a context URL's select list (OData v4 part 1, 10.9): `items(product())`."""
    return [f"{expand.relation.name}({','.join(expanded_names(expand.expand))})" for expand in expands]


def context_url(base: str, query: ODataQuery, single: bool = False) -> str:
    names = [field.name for field in query.select] if query.explicit_select else []
    names += expanded_names(query.expand)
    projection = f"({','.join(names)})" if names else ""
    return f"{base}/$metadata#{query.entity.name}{projection}{'/$entity' if single else ''}"


def next_link(request: web.Request, base: str, entity: EntitySet, page: reading.Page) -> str:
    params = [(name, value) for name, value in request.query.items() if name not in ("$skip", "$top", "$skiptoken")]
    if page.next_token is not None:
        params.append(("$skiptoken", page.next_token))
    top = page.next_top
    if top is not None:
        params.append(("$top", str(top)))
    return f"{base}/{entity.name}?{urlencode(params, quote_via=quote, safe='$@,()')}"


async def get_resource(request: web.Request) -> web.Response:
    principal = authenticate(request)
    match = _RESOURCE_PATH.match(request.match_info["resource_path"])
    entity = ENTITY_SETS.get(match.group("set")) if match else None
    if match is None or entity is None:
        raise NotFound("No such entity set; see the service document at /odata/", target="resource")
    key_text, rest = match.group("key"), match.group("rest")
    if key_text is not None:
        if rest:
            raise NotImplementedFeature("Addressing properties or navigation by path is not supported; use $expand")
        return await get_single(request, principal, entity, key_text)
    if rest == "/":
        rest = None
    if rest == "/$count":
        return await get_count(request, principal, entity)
    if rest:
        raise NotImplementedFeature("This resource path is not supported", target="resource")
    return await get_collection(request, principal, entity)


async def get_collection(request: web.Request, principal: Principal, entity: EntitySet) -> web.Response:
    config = request.app[CONFIG]
    query = readable_query(request, principal, entity)
    async with request.app[POOL].acquire() as conn:
        page = await reading.read_page(conn, query, config.default_page_size, config.max_page_size)
    base = odata_base(request, config)
    body: dict[str, object] = {"@odata.context": context_url(base, query)}
    if page.count is not None:
        body["@odata.count"] = page.count
    body["value"] = page.entities
    if page.next_token is not None:
        body["@odata.nextLink"] = next_link(request, base, entity, page)
    return json_response(body)


async def get_single(request: web.Request, principal: Principal, entity: EntitySet, key_text: str) -> web.Response:
    key = _KEY.match(key_text.strip())
    if key is None:
        raise QueryOptionError(f"The key of {entity.name} is a whole number, e.g. {entity.name}(4)", target="key")
    query = readable_query(request, principal, entity)
    for option in ("$filter", "$orderby", "$top", "$skip", "$skiptoken", "$count", "$search"):
        if option in request.query:
            raise QueryOptionError(f"{option} does not apply to a single entity", target=option)
    async with request.app[POOL].acquire() as conn:
        found = await reading.read_entity(conn, query, int(key.group("value")))
    if found is None:
        raise NotFound(f"No {entity.type_name} with key {key.group('value')}", target="key")
    base = odata_base(request, request.app[CONFIG])
    return json_response({"@odata.context": context_url(base, query, single=True), **found})


async def get_count(request: web.Request, principal: Principal, entity: EntitySet) -> web.Response:
    query = readable_query(request, principal, entity)
    async with request.app[POOL].acquire() as conn:
        count = await reading.count_entities(conn, query)
    return web.Response(text=str(count), content_type="text/plain", headers=ODATA_HEADERS)


MAX_QUERY_BODY = 65_536


async def post_query(request: web.Request) -> web.Response:
    """POST /api/query {"query": "products { id, name }"} -> {"products": [...]}."""
    principal = authenticate(request)
    config = request.app[CONFIG]
    if request.content_length is not None and request.content_length > MAX_QUERY_BODY:
        raise PayloadTooLarge(f"The request body is limited to {MAX_QUERY_BODY} bytes")
    raw = await request.content.read(MAX_QUERY_BODY + 1)
    if len(raw) > MAX_QUERY_BODY:
        raise PayloadTooLarge(f"The request body is limited to {MAX_QUERY_BODY} bytes")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('The body must be JSON: {"query": "products { id name }"}', target="body") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise BadRequest('The body must be a JSON object with a "query" string', target="query")
    plans = parse_query_document(
        payload["query"], config.default_page_size, config.max_page_size, config.query_max_rows
    )
    authorize(principal, plans)
    async with request.app[POOL].acquire() as conn:
        answer = await run_plans(conn, plans, config.query_max_rows)
    return web.Response(text=json.dumps(answer, separators=(",", ":")), content_type="application/json")
