"""The front door (match the route, establish the principal, apply the limits, check the permission, forward)
and the gateway's own pages: OpenAPI document, docs (metrics are on their own listener, shared/metrics.py)."""

from __future__ import annotations

from aiohttp import web

from services.gateway.credentials import BUFFERED_FORM, read_credential, read_form_credential
from services.gateway.keys import CONFIG, CORS, FORWARDER, GATEWAY_METRICS, LIMITER, ROUTE_TABLE, TRANSPORT, VERIFIER
from services.gateway.openapi import build_document, render_docs
from services.gateway.ratelimit import Quota
from services.gateway.routes import RouteRule
from services.gateway.transport import ClientConnection
from shared.errors import ApiError, Unauthorized
from shared.metrics import ROUTE_TEMPLATE, UNMATCHED
from shared.principal import Principal


async def front_door(request: web.Request) -> web.StreamResponse:
    app = request.app
    cors = app[CORS]
    table = app[ROUTE_TABLE]
    request[ROUTE_TEMPLATE] = UNMATCHED
    if cors.is_preflight(request):
        return cors.preflight(request, table.for_path(request.path))
    rule = table.match(request.method, request.path)
    request[ROUTE_TEMPLATE] = rule.pattern
    client = app[TRANSPORT].connection(request)
    quota: Quota | None = None
    try:
        if rule.carries_secrets:
            app[TRANSPORT].check(client)
        principal: Principal | None = None
        if rule.public:
            quota = await _count(request, "anonymous", f"address:{client.address}")
        else:
            principal, quota = await _authenticate(request, rule, client)
        headers = {**(quota.headers() if quota else {}), **cors.headers(request, rule)}
        return await app[FORWARDER].forward(request, rule, principal, client, headers)
    except ApiError as error:
        if quota is None and "RateLimit-Limit" not in error.headers:
            quota = await _peek(request, f"address:{client.address}")
        error.headers = {**(quota.headers() if quota else {}), **error.headers, **cors.headers(request, rule)}
        return rule.envelope(error, request)


async def _authenticate(
    request: web.Request, rule: RouteRule, client: ClientConnection
) -> tuple[Principal, Quota | None]:
    metrics = request.app[GATEWAY_METRICS]
    try:
        principal, quota = await _establish_principal(request, rule, client)
    except ApiError as error:
        metrics.auth_outcome(error.code)
        raise
    metrics.auth_outcome("accepted")
    return principal, quota


async def _establish_principal(
    request: web.Request, rule: RouteRule, client: ClientConnection
) -> tuple[Principal, Quota | None]:
    failures_key = f"failed:{client.address}"
    guard = await _peek(request, failures_key)
    if guard is not None and guard.remaining <= 0:
        raise guard.refusal()
    try:
        form_token = None
        if rule.credentials.form_field:
            timeout = request.app[CONFIG].client_body_timeout
            form = await read_form_credential(request, rule.credentials.form_field, timeout)
            if form is not None:
                # Read whole already: the forwarder sends this copy, without the credential field.
                request[BUFFERED_FORM] = form
                form_token = form.token
        credential = read_credential(request.headers, request.query, rule.credentials, form_token)
        principal = await request.app[VERIFIER].verify(credential, client.address)
    except Unauthorized as error:
        # Failed attempts count against the address, so guessing credentials is throttled here,
        # before it reaches the auth service.
        failures = await _count(request, "anonymous", failures_key, enforce=False)
        if failures is not None:
            error.headers = {**failures.headers(), **error.headers}
        raise
    quota = await _count(request, credential.kind, rate_limit_key(principal))
    if rule.permission is not None and not (principal.is_admin or principal.can(*rule.permission)):
        raise credential.forbidden(*rule.permission)
    return principal, quota


def rate_limit_key(principal: Principal) -> str:
    """What one budget is counted against: the API key, the user's API token, or the OAuth client (with the user it
    acts for), so that minting or refreshing tokens never starts a fresh budget."""
    if principal.client_id is not None:
        return f"oauth_client:{principal.client_id}:{principal.user_id if principal.user_id is not None else '-'}"
    return f"{principal.credential_kind}:{principal.credential_id}"


async def _count(request: web.Request, kind: str, key: str, *, enforce: bool = True) -> Quota | None:
    limit = request.app[CONFIG].rate_limits.get(kind, 0)
    if limit <= 0:
        return None
    quota = await request.app[LIMITER].hit(key, limit)
    if enforce and quota.exceeded:
        raise quota.refusal()
    return quota


async def _peek(request: web.Request, key: str) -> Quota | None:
    limit = request.app[CONFIG].rate_limits.get("anonymous", 0)
    return await request.app[LIMITER].peek(key, limit) if limit > 0 else None


async def serve_openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app[ROUTE_TABLE].rules))


async def serve_docs(request: web.Request) -> web.Response:
    return web.Response(
        text=render_docs(request.app[ROUTE_TABLE].rules),
        content_type="text/html",
        headers={"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"},
    )
