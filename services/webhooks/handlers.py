"""Thin handlers of the management API: read the request, call the domain, shape the answer."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from services.webhooks import db
from services.webhooks.keys import CIPHER, CONFIG, POLICY, POOL, PUBLISHER, RESOLVER
from services.webhooks.queues import DeliveryDue, publish_due
from services.webhooks.signing import generate_secret
from services.webhooks.subscriptions import (
    authorize,
    delivery_view,
    ensure_visible,
    parse_fields,
    subscription_view,
)
from services.webhooks.targets import TargetRefused, check_subscription_target
from shared.bus import Topology
from shared.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, UnsupportedMediaType
from shared.principal import Principal, principal_from_request

MAX_PAGE = 200
DEFAULT_PAGE = 50
STATUSES = ("pending", "succeeded", "failed", "refused")
MAX_BODY_BYTES = 16_384


def _principal(request: web.Request) -> Principal:
    return principal_from_request(
        request, request.app[CONFIG].common.signing_key.bytes, request.app[CONFIG].common.service
    )


async def _json_object(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send a JSON body with Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"The body is larger than {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"The body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object")
    return body


def _subscription_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["id"])
    except ValueError:
        raise NotFound("No such webhook subscription") from None


def _integer(request: web.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise BadRequest(f"{name} must be a whole number between {minimum} and {maximum}", target=name)
    return int(raw)


async def _check_target(request: web.Request, url: str) -> None:
    try:
        await check_subscription_target(url, request.app[POLICY], request.app[RESOLVER])
    except TargetRefused as refused:
        raise BadRequest(f"Deliveries cannot go to this URL: {refused}", target="url") from None


def _secret_response(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})


async def create_subscription(request: web.Request) -> web.Response:
    principal = _principal(request)
    user_id = authorize(principal, "create")
    fields = parse_fields(await _json_object(request), creating=True)
    await _check_target(request, fields["url"])
    subscription_id = uuid.uuid4()
    secret = generate_secret()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        if await db.count_owned(conn, user_id) >= request.app[CONFIG].max_subscriptions:
            raise Conflict(f"A user may own at most {request.app[CONFIG].max_subscriptions} webhook subscriptions")
        row = await db.insert_subscription(
            conn,
            subscription_id=subscription_id,
            owner_user_id=user_id,
            owner_name=principal.username[:200],
            created_by_client=principal.client_id,
            secret_encrypted=request.app[CIPHER].encrypt(secret, str(subscription_id)),
            **fields,
        )
    view = {**subscription_view(row), "secret": secret}
    return _secret_response(view, status=201)


async def list_subscriptions(request: web.Request) -> web.Response:
    principal = _principal(request)
    user_id = authorize(principal, "read")
    limit = _integer(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _integer(request, "offset", 0, 0, 1_000_000)
    async with request.app[POOL].acquire() as conn:
        rows = await db.list_subscriptions(conn, None if principal.is_admin else user_id, limit, offset)
    return web.json_response({"value": [subscription_view(row) for row in rows]})


async def get_subscription(request: web.Request) -> web.Response:
    principal = _principal(request)
    authorize(principal, "read")
    async with request.app[POOL].acquire() as conn:
        row = ensure_visible(principal, await db.get_subscription(conn, _subscription_id(request)))
    return web.json_response(subscription_view(row))


async def update_subscription(request: web.Request) -> web.Response:
    principal = _principal(request)
    authorize(principal, "update")
    subscription_id = _subscription_id(request)
    changes = parse_fields(await _json_object(request), creating=False)
    async with request.app[POOL].acquire() as conn:
        ensure_visible(principal, await db.get_subscription(conn, subscription_id))
    if "url" in changes:
        await _check_target(request, changes["url"])
    async with request.app[POOL].acquire() as conn:
        row = await db.update_subscription(conn, subscription_id, changes)
    if row is None:
        raise NotFound("No such webhook subscription")
    return web.json_response(subscription_view(row))


async def delete_subscription(request: web.Request) -> web.Response:
    principal = _principal(request)
    authorize(principal, "delete")
    subscription_id = _subscription_id(request)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        ensure_visible(principal, await db.get_subscription(conn, subscription_id))
        # Its deliveries go with it: attempts still queued find nothing and are dropped.
        await db.delete_subscription(conn, subscription_id)
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    principal = _principal(request)
    authorize(principal, "update")
    subscription_id = _subscription_id(request)
    secret = generate_secret()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        ensure_visible(principal, await db.get_subscription(conn, subscription_id))
        await db.set_secret(conn, subscription_id, request.app[CIPHER].encrypt(secret, str(subscription_id)))
    return _secret_response({"id": str(subscription_id), "secret": secret})


async def list_deliveries(request: web.Request) -> web.Response:
    principal = _principal(request)
    authorize(principal, "read")
    subscription_id = _subscription_id(request)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", target="status")
    limit = _integer(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    # One snapshot for the deliveries and their attempts, so an attempt recorded meanwhile never shows beside its
    # delivery's previous status.
    async with request.app[POOL].acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        ensure_visible(principal, await db.get_subscription(conn, subscription_id))
        before = None
        if "before" in request.query:
            anchor = await db.get_delivery(conn, subscription_id, request.query["before"][:64])
            if anchor is None:
                raise BadRequest("before must be the id of one of this subscription's deliveries", target="before")
            before = (anchor["created_at"], anchor["id"])
        rows = await db.list_deliveries(conn, subscription_id, status, limit, before)
        attempts = await db.attempts_of(conn, [row["id"] for row in rows])
    by_delivery: dict[str, list[Any]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt["delivery_id"], []).append(attempt)
    return web.json_response({"value": [delivery_view(row, by_delivery.get(row["id"], [])) for row in rows]})


async def resend_delivery(request: web.Request) -> web.Response:
    """Send a delivery again by hand, with the same webhook-id (whatever its status); a retry it had scheduled is
    superseded."""
    principal = _principal(request)
    authorize(principal, "update")
    subscription_id = _subscription_id(request)
    delivery_id = request.match_info["delivery_id"][:64]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        subscription = ensure_visible(principal, await db.get_subscription(conn, subscription_id))
        if await db.get_delivery(conn, subscription_id, delivery_id) is None:
            raise NotFound("No such delivery")
        if not subscription["active"]:
            raise Conflict("The subscription is disabled; enable it (PATCH active: true) before re-sending")
        attempt = await db.reopen_delivery(conn, delivery_id)
    try:
        await publish_due(
            request.app[PUBLISHER],
            Topology(request.app[CONFIG].common.bus_prefix),
            DeliveryDue(delivery_id=delivery_id, attempt=attempt),
        )
    except Exception:
        # The delivery is pending and due: the sweep publishes it if this publish did not happen.
        raise ServiceUnavailable("The re-send is recorded but not queued yet; it will go out shortly") from None
    async with request.app[POOL].acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        row = await db.get_delivery(conn, subscription_id, delivery_id)
        attempts = await db.attempts_of(conn, [delivery_id])
    assert row is not None
    return web.json_response(delivery_view(row, list(attempts)), status=202)
