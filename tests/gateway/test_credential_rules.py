"""The seams later issues plug into: a local JWT verifier, and a route taking its token from the query."""

from __future__ import annotations

from aiohttp import web

from services.gateway.credentials import Credential
from services.gateway.keys import JWT_VERIFIER, ROUTE_TABLE
from services.gateway.routes import ROUTES, CredentialRule, RouteRule, RouteTable
from shared.bus import Topology, open_connection, open_publisher_channel, publish
from shared.messages import CredentialRevoked
from shared.principal import PRINCIPAL_HEADER, Principal
from tests.eventually import eventually
from tests.gateway.conftest import StartGateway, make_principal

GOOD_JWT = "eyJhbGciOiJFUzI1NiJ9.payload.signature"


class SignedTokenVerifier:
    """Stands in for the OAuth issue's JWT verifier, with its shape (verify a token, hear revocations)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.revoked: set[str] = set()

    async def verify(self, token: str) -> Principal:
        if token != GOOD_JWT or self.principal.credential_id in self.revoked:
            raise Credential("bearer", token).invalid()
        return self.principal

    def handle_revocation(self, event: CredentialRevoked) -> None:
        if event.credential_id is not None:
            self.revoked.add(event.credential_id)

    async def load_revocations(self, url: str, headers: dict[str, str]) -> int:
        return 0

    async def close(self) -> None:
        return None


async def test_a_plugged_jwt_verifier_checks_jwts_locally_and_opaque_tokens_still_go_to_auth(
    start_gateway: StartGateway,
) -> None:
    verifier = SignedTokenVerifier(make_principal(credential_kind="oauth_access"))

    def plug(app: web.Application) -> None:
        app[JWT_VERIFIER] = verifier

    gateway = await start_gateway(prepare=plug)
    response = await gateway.client.get("/odata/products", headers={"Authorization": f"Bearer {GOOD_JWT}"})
    assert response.status == 200
    assert PRINCIPAL_HEADER in (await response.json())["headers"]
    forged = await gateway.client.get("/odata/products", headers={"Authorization": "Bearer eyJhbGc.payload.forged"})
    assert forged.status == 401 and 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    assert gateway.auth.calls == []
    opaque = gateway.auth.bearer(make_principal(credential_kind="oauth_access"))
    assert (await gateway.client.get("/odata/products", headers={"Authorization": f"Bearer {opaque}"})).status == 200
    assert [call.kind for call in gateway.auth.calls] == ["bearer"]


async def test_revocation_events_reach_the_plugged_jwt_verifier(
    start_gateway: StartGateway, amqp_url: str, bus_prefix: str
) -> None:
    principal = make_principal(credential_kind="oauth_access")
    verifier = SignedTokenVerifier(principal)

    def plug(app: web.Application) -> None:
        app[JWT_VERIFIER] = verifier

    gateway = await start_gateway(prepare=plug)
    headers = {"Authorization": f"Bearer {GOOD_JWT}"}
    assert (await gateway.client.get("/odata/products", headers=headers)).status == 200
    async with open_connection(amqp_url) as connection:
        channel = await open_publisher_channel(connection)
        event = CredentialRevoked(
            reason="revoked", credential_kind="oauth_access", credential_id=principal.credential_id
        )
        await publish(channel, Topology(bus_prefix).auth_events_exchange, event)

    async def refused() -> bool:
        return (await gateway.client.get("/odata/products", headers=headers)).status == 401

    await eventually(refused, timeout=1.0, interval=0.01, what="the revoked JWT's refusal")


async def test_a_route_may_take_its_token_from_the_query_and_it_is_not_forwarded(start_gateway: StartGateway) -> None:
    legacy = RouteRule(
        frozenset({"GET"}), "/api.php/**", "odata", credentials=CredentialRule(query_parameter="access_token")
    )

    def add_legacy_route(app: web.Application) -> None:
        app[ROUTE_TABLE] = RouteTable((legacy, *ROUTES))

    gateway = await start_gateway(prepare=add_legacy_route)
    token = gateway.auth.bearer(make_principal(credential_kind="oauth_access"))
    response = await gateway.client.get(f"/api.php/shop.product.search?access_token={token}&limit=2")
    assert response.status == 200
    assert (await response.json())["path"] == "/api.php/shop.product.search?limit=2"
    both = await gateway.client.get(f"/api.php/x?access_token={token}", headers={"Authorization": f"Bearer {token}"})
    assert both.status == 400
    # Other routes never read a token from the query.
    assert (await gateway.client.get(f"/odata/products?access_token={token}")).status == 401
