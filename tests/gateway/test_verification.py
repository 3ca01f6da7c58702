from __future__ import annotations

import asyncio
import time

import aio_pika

from services.gateway.cache import PrincipalCache
from services.gateway.credentials import Credential
from services.gateway.keys import BUS, CACHE, REVOCATIONS
from shared.bus import Topology, open_connection, open_publisher_channel, publish
from shared.messages import CredentialRevoked
from tests.eventually import eventually
from tests.gateway.conftest import Gateway, StartGateway, make_principal


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_cached_principal_makes_no_second_call_to_auth(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    for _ in range(3):
        response = await gateway.client.get("/odata/products", headers={"X-API-Key": key})
        assert response.status == 200
    assert len(gateway.auth.calls) == 1


async def test_requests_missing_the_cache_together_share_one_call_to_auth(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal())
    gateway.auth.answer_delay = 0.2
    responses = await asyncio.gather(
        *(gateway.client.get("/odata/products", headers={"X-API-Key": key}) for _ in range(20))
    )
    assert [response.status for response in responses] == [200] * 20
    assert len(gateway.auth.calls) == 1


async def test_a_refused_credential_is_not_cached(gateway: Gateway) -> None:
    for _ in range(2):
        await gateway.client.get("/odata/products", headers={"X-API-Key": "pk_test_unknown"})
    assert len(gateway.auth.calls) == 2


async def test_an_answer_with_zero_cache_ttl_is_not_cached(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(), cache_ttl=0)
    for _ in range(2):
        assert (await gateway.client.get("/odata/products", headers={"X-API-Key": key})).status == 200
    assert len(gateway.auth.calls) == 2


async def test_an_already_expired_principal_is_refused(gateway: Gateway) -> None:
    key = gateway.auth.api_key(make_principal(expires_at=time.time() - 5))
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": key})
    assert response.status == 401


def test_cache_keys_do_not_hold_the_secret() -> None:
    credential = Credential("api_key", "pk_live_the-secret-itself")
    key = credential.cache_key(b"salt" * 8)
    assert b"the-secret-itself" not in key and len(key) == 32
    assert "the-secret-itself" not in repr(credential)


def test_a_cache_entry_never_outlives_the_credentials_expiry() -> None:
    clock, wall = FakeClock(), FakeClock()
    cache = PrincipalCache(10, max_age=60, clock=clock, wall_clock=wall)
    principal = make_principal(expires_at=wall.now + 5)
    assert cache.put(b"k", principal, ttl=60, generation=cache.generation)
    clock.now += 4.9
    assert cache.get(b"k") == principal
    clock.now += 0.2
    assert cache.get(b"k") is None


def test_a_cache_entry_ages_out_after_max_age() -> None:
    clock = FakeClock()
    cache = PrincipalCache(10, max_age=2, clock=clock)
    cache.put(b"k", make_principal(), ttl=60, generation=cache.generation)
    clock.now += 2.1
    assert cache.get(b"k") is None
    assert len(cache) == 0


def test_an_aged_out_entry_answers_only_get_stale_and_only_within_the_outage_grace() -> None:
    clock, wall = FakeClock(), FakeClock()
    cache = PrincipalCache(10, max_age=2, clock=clock, wall_clock=wall, grace=10)
    principal = make_principal()
    cache.put(b"k", principal, ttl=60, generation=cache.generation)
    clock.now += 5
    assert cache.get(b"k") is None
    assert cache.get_stale(b"k") == principal
    clock.now += 7.1
    assert cache.get_stale(b"k") is None and len(cache) == 0


def test_the_outage_grace_never_passes_the_credentials_expiry_nor_a_revocation() -> None:
    clock, wall = FakeClock(), FakeClock()
    cache = PrincipalCache(10, max_age=2, clock=clock, wall_clock=wall, grace=60)
    expiring, revoked = make_principal(expires_at=wall.now + 3), make_principal(user_id=7)
    cache.put(b"expiring", expiring, ttl=60, generation=cache.generation)
    cache.put(b"revoked", revoked, ttl=60, generation=cache.generation)
    clock.now += 2.5
    wall.now += 3.5
    assert cache.get_stale(b"expiring") is None
    cache.evict_user(7)
    assert cache.get_stale(b"revoked") is None


def test_the_cache_drops_the_least_recently_used_entry_when_full() -> None:
    cache = PrincipalCache(2, max_age=60)
    for key in (b"a", b"b"):
        cache.put(key, make_principal(), ttl=60, generation=cache.generation)
    cache.get(b"a")
    cache.put(b"c", make_principal(), ttl=60, generation=cache.generation)
    assert cache.get(b"b") is None
    assert cache.get(b"a") is not None and cache.get(b"c") is not None


def test_evicting_a_user_drops_all_of_their_credentials_only() -> None:
    cache = PrincipalCache(10, max_age=60)
    mine = [make_principal(user_id=7) for _ in range(2)]
    other = make_principal(user_id=8)
    for index, principal in enumerate([*mine, other]):
        cache.put(bytes([index]), principal, ttl=60, generation=cache.generation)
    assert cache.evict_user(7) == 2
    assert cache.get(bytes([2])) == other and len(cache) == 1


def test_an_answer_verified_across_a_revocation_is_not_cached() -> None:
    cache = PrincipalCache(10, max_age=60)
    principal = make_principal()
    started_at = cache.generation
    cache.evict_credential(principal.credential_id)
    assert not cache.put(b"k", principal, ttl=60, generation=started_at)
    assert cache.get(b"k") is None


async def _publish(amqp_url: str, prefix: str, event: CredentialRevoked) -> None:
    async with open_connection(amqp_url) as connection:
        channel = await open_publisher_channel(connection)
        await publish(channel, Topology(prefix).auth_events_exchange, event)


async def _refused_within(gateway: Gateway, headers: dict[str, str], seconds: float) -> float:
    started = time.monotonic()

    async def refused() -> bool:
        return (await gateway.client.get("/odata/products", headers=headers)).status == 401

    await eventually(refused, timeout=seconds, interval=0.01, what="the credential's refusal")
    return time.monotonic() - started


async def test_a_revocation_event_evicts_the_credential_within_one_second(
    gateway: Gateway, amqp_url: str, bus_prefix: str
) -> None:
    principal = make_principal()
    key = gateway.auth.api_key(principal)
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": key})).status == 200
    gateway.auth.forget(principal)
    # Still served from the cache: the auth service is not asked again until the event arrives.
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": key})).status == 200
    event = CredentialRevoked(reason="revoked", credential_kind="api_key", credential_id=principal.credential_id)
    published = time.monotonic()
    await _publish(amqp_url, bus_prefix, event)
    await _refused_within(gateway, {"X-API-Key": key}, 1.0)
    assert time.monotonic() - published < 1.0


async def test_a_user_revocation_event_evicts_every_credential_of_that_user(
    gateway: Gateway, amqp_url: str, bus_prefix: str
) -> None:
    principal = make_principal(user_id=424242)
    key = gateway.auth.api_key(principal)
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": key})).status == 200
    gateway.auth.forget(principal)
    await _publish(amqp_url, bus_prefix, CredentialRevoked(reason="user_deactivated", user_id=424242))
    await _refused_within(gateway, {"X-API-Key": key}, 1.0)


async def test_a_malformed_event_is_dropped_and_the_consumer_keeps_going(
    gateway: Gateway, amqp_url: str, bus_prefix: str
) -> None:
    principal = make_principal()
    key = gateway.auth.api_key(principal)
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": key})).status == 200
    async with open_connection(amqp_url) as connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(Topology(bus_prefix).auth_events_exchange)
        await exchange.publish(aio_pika.Message(b"not json"), routing_key="")
    gateway.auth.forget(principal)
    event = CredentialRevoked(reason="revoked", credential_id=principal.credential_id)
    await _publish(amqp_url, bus_prefix, event)
    await _refused_within(gateway, {"X-API-Key": key}, 1.0)


async def test_each_gateway_replica_has_its_own_queue(start_gateway: StartGateway) -> None:
    first, second = await start_gateway(), await start_gateway()
    assert first.app[REVOCATIONS].queue_name != second.app[REVOCATIONS].queue_name


async def test_when_auth_is_down_cached_principals_work_and_unknown_ones_get_503(gateway: Gateway) -> None:
    cached = gateway.auth.api_key(make_principal())
    other = gateway.auth.api_key(make_principal())
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": cached})).status == 200
    await gateway.auth_server.close()
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": cached})).status == 200
    response = await gateway.client.get("/odata/products", headers={"X-API-Key": other})
    assert response.status == 503
    assert "Retry-After" in response.headers
    assert (await response.json())["error"]["code"] == "service_unavailable"


async def test_after_a_broker_reconnect_revocations_still_arrive(
    gateway: Gateway, amqp_url: str, bus_prefix: str
) -> None:
    key = gateway.auth.api_key(make_principal())
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": key})).status == 200
    assert len(gateway.app[CACHE]) == 1
    connection = gateway.app[BUS]
    reconnected = asyncio.Event()
    connection.reconnect_callbacks.add(lambda *_: reconnected.set())
    transport = connection.transport
    assert transport is not None
    await transport.connection.close(ConnectionError("simulated network failure"))
    # Events may be missed while disconnected, so nothing cached before the loss may be trusted after it.
    assert len(gateway.app[CACHE]) == 0
    await asyncio.wait_for(reconnected.wait(), 10)
    principal = make_principal()
    other = gateway.auth.api_key(principal)
    assert (await gateway.client.get("/odata/products", headers={"X-API-Key": other})).status == 200
    assert len(gateway.app[CACHE]) == 1
    gateway.auth.forget(principal)
    await _publish(amqp_url, bus_prefix, CredentialRevoked(reason="revoked", credential_id=principal.credential_id))
    await _refused_within(gateway, {"X-API-Key": other}, 1.0)
