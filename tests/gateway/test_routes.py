from __future__ import annotations

import pytest

from services.gateway.routes import ROUTES, RouteTable
from shared.errors import MethodNotAllowed, NotFound
from tests.gateway.conftest import Gateway

TABLE = RouteTable(ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "upstream", "permission"),
    [
        ("GET", "/odata", "odata", None),
        ("GET", "/odata/products(4)", "odata", None),
        ("GET", "/odata/$metadata", "odata", None),
        ("POST", "/api/query", "odata", None),
        ("POST", "/api/import", "importer", ("imports", "create")),
        ("GET", "/api/imports", "importer", ("imports", "read")),
        ("GET", "/api/imports/42", "importer", ("imports", "read")),
        ("GET", "/api/mappers", "importer", ("mappers", "read")),
        ("DELETE", "/api/mappers/products-default", "importer", ("mappers", "delete")),
        ("GET", "/api/users", "auth", None),
        ("PUT", "/api/users/3/permissions", "auth", None),
        ("POST", "/api/keys/abc/revoke", "auth", None),
        ("GET", "/api/me", "auth", None),
        ("GET", "/api/audit", "auth", None),
        ("POST", "/api/apps/client-1/secret/rotate", "auth", None),
        ("GET", "/api/authorizations", "auth", None),
        ("POST", "/api/imports/5/cancel", "importer", ("imports", "create")),
        ("GET", "/api/webhooks", "webhooks", ("webhooks", "read")),
        ("POST", "/api/webhooks", "webhooks", ("webhooks", "create")),
        ("PATCH", "/api/webhooks/3f0c", "webhooks", ("webhooks", "update")),
        ("DELETE", "/api/webhooks/3f0c", "webhooks", ("webhooks", "delete")),
        ("POST", "/api/webhooks/3f0c/rotate-secret", "webhooks", ("webhooks", "update")),
        ("GET", "/api/webhooks/3f0c/deliveries", "webhooks", ("webhooks", "read")),
        ("POST", "/api/webhooks/3f0c/deliveries/msg_1/resend", "webhooks", ("webhooks", "update")),
    ],
)
def test_each_contract_path_is_served_by_its_service_with_credentials(
    method: str, path: str, upstream: str, permission: tuple[str, str] | None
) -> None:
    rule = TABLE.match(method, path)
    assert (rule.upstream, rule.public, rule.permission) == (upstream, False, permission)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/auth/oauth/token"),
        ("GET", "/auth/oauth/authorize"),
        ("GET", "/panel/users"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/.well-known/oauth-authorization-server"),
    ],
)
def test_oauth_pages_panel_and_key_set_are_public_routes_of_the_auth_service(method: str, path: str) -> None:
    rule = TABLE.match(method, path)
    assert rule.public and rule.upstream == "auth"


def test_a_segment_placeholder_does_not_match_deeper_paths() -> None:
    with pytest.raises(NotFound):
        TABLE.match("GET", "/api/imports/42/rows")


def test_a_prefix_rule_does_not_match_a_longer_name() -> None:
    with pytest.raises(NotFound):
        TABLE.match("GET", "/odatax")


def test_dot_segments_are_never_routed() -> None:
    with pytest.raises(NotFound):
        TABLE.match("GET", "/odata/../api/users")


def test_a_wrong_method_names_the_allowed_ones() -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        TABLE.match("DELETE", "/api/imports")
    assert raised.value.headers["Allow"] == "GET, HEAD"


async def test_an_unknown_path_is_a_json_404(gateway: Gateway) -> None:
    response = await gateway.client.get("/no/such/path", headers={"X-API-Key": "whatever"})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    assert gateway.auth.calls == []


async def test_a_wrong_method_is_a_json_405_with_allow(gateway: Gateway) -> None:
    response = await gateway.client.delete("/api/query")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert (await response.json())["error"]["code"] == "method_not_allowed"
