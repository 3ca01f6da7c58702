"""What a client-credentials app makes (import jobs, mappers) is owned by its client id, never by its display name:
another developer who names an app the same gets nothing of it."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import asyncpg
import jwt

from tests.security.conftest import Admin, Stack, bearer

IMPORT_RIGHTS = (
    "imports:read",
    "imports:create",
    "mappers:read",
    "mappers:create",
    "mappers:update",
    "mappers:delete",
    "products:read",
    "products:create",
    "products:update",
)
SHARED_NAME = "Shop Sync"


async def _app_named(stack: Stack, admin: Admin, name: str) -> tuple[dict[str, Any], str]:
    """A client-credentials app of a developer of its own, and a token of the app."""
    developer = await stack.user(["apps:create", *IMPORT_RIGHTS])
    app = await admin.register_app(
        developer, name=name, grant_types=["client_credentials"], redirect_uris=[], permissions=list(IMPORT_RIGHTS)
    )
    return app, await stack.client_credentials_token(app, "read write")


async def _import(stack: Stack, token: str) -> str:
    tag = secrets.token_hex(4)
    form = aiohttp.FormData()
    form.add_field("file", f"sku,name,price,stock\nOWN-{tag},Owned mug,9.50,3\n".encode(), filename="p.csv")
    form.add_field("entity", "products")
    form.add_field("mapperId", "products-default")
    answer = await stack.call("POST", "/api/import", data=form, headers={**bearer(token), "Prefer": "respond-async"})
    assert answer.status in (200, 202), answer.text
    return str(answer.json()["id"])


def _mapper() -> dict[str, Any]:
    columns = [{"column": column, "field": column} for column in ("sku", "name", "price")]
    return {"id": f"own-{secrets.token_hex(4)}", "entity": "products", "definition": {"key": "sku", "columns": columns}}


async def test_an_app_with_a_copied_name_cannot_see_or_cancel_another_apps_import(stack: Stack, admin: Admin) -> None:
    _, owner_token = await _app_named(stack, admin, SHARED_NAME)
    _, copycat_token = await _app_named(stack, admin, SHARED_NAME)
    job_id = await _import(stack, owner_token)
    listed = await stack.call("GET", "/api/imports", headers=bearer(copycat_token))
    assert listed.status == 200 and job_id not in listed.text
    assert (await stack.call("GET", f"/api/imports/{job_id}", headers=bearer(copycat_token))).status == 404
    assert (await stack.call("POST", f"/api/imports/{job_id}/cancel", headers=bearer(copycat_token))).status == 404
    own = await stack.call("GET", "/api/imports", headers=bearer(owner_token))
    assert job_id in own.text
    assert (await stack.call("GET", f"/api/imports/{job_id}", headers=bearer(owner_token))).status == 200


async def test_an_app_with_a_copied_name_cannot_change_or_delete_another_apps_mapper(
    stack: Stack, admin: Admin
) -> None:
    owner_app, owner_token = await _app_named(stack, admin, SHARED_NAME)
    _, copycat_token = await _app_named(stack, admin, SHARED_NAME)
    mapper = _mapper()
    created = await stack.call("POST", "/api/mappers", json=mapper, headers=bearer(owner_token))
    assert created.status == 201, created.text
    assert created.json()["owner"] == f"client:{owner_app['client_id']}"
    path = f"/api/mappers/{mapper['id']}"
    changed = {**mapper, "name": "hijacked"}
    assert (await stack.call("PUT", path, json=changed, headers=bearer(copycat_token))).status == 403
    assert (await stack.call("DELETE", path, headers=bearer(copycat_token))).status == 403
    assert (await stack.call("GET", path, headers=bearer(owner_token))).json()["name"] == ""
    assert (
        await stack.call("PUT", path, json={**mapper, "name": "renamed"}, headers=bearer(owner_token))
    ).status == 200
    assert (await stack.call("DELETE", path, headers=bearer(owner_token))).status == 204


async def test_only_an_admin_changes_the_platforms_own_mappers(stack: Stack, admin: Admin) -> None:
    _, token = await _app_named(stack, admin, SHARED_NAME)
    demo = await stack.call("GET", "/api/mappers/products-default", headers=bearer(token))
    assert demo.status == 200 and demo.json()["owner"] is None
    body = {key: demo.json()[key] for key in ("id", "entity", "name", "definition")}
    assert (await stack.call("PUT", "/api/mappers/products-default", json=body, headers=bearer(token))).status == 403
    assert (await admin.call("PUT", "/api/mappers/products-default", json=body)).status == 200


async def test_a_job_and_the_token_name_the_client_id_never_the_apps_name(stack: Stack, admin: Admin) -> None:
    app, token = await _app_named(stack, admin, SHARED_NAME)
    assert jwt.decode(token, options={"verify_signature": False})["username"] == f"client:{app['client_id']}"
    job_id = await _import(stack, token)
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        owner = await conn.fetchval("SELECT requested_by FROM importer.jobs WHERE id = $1::uuid", job_id)
    finally:
        await conn.close()
    assert owner == f"client:{app['client_id']}"
