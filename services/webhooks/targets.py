"""Where deliveries may go (SSRF protection): the receiver's address is checked when a subscription is saved and
again on every attempt, against the address actually connected to.

Refused unless the operator allows them (WEBHOOKS_ALLOW_PRIVATE_TARGETS, WEBHOOKS_ALLOWED_NETWORKS): every address
that is not globally routable: private (10/8, 172.16/12, 192.168/16, fc00::/7 with fd00::/8), loopback, link-local
(169.254/16 with the cloud metadata address 169.254.169.254, fe80::/10), shared (100.64/10), reserved and
documentation ranges, and IPv6 forms that embed such an IPv4 address. Multicast, broadcast and unspecified addresses
are never a receiver. The cloud metadata addresses pass only when named in WEBHOOKS_ALLOWED_NETWORKS.

At delivery the name is resolved by GuardedResolver, which aiohttp's connector asks for the addresses it will
connect to: it returns only allowed ones, so the check and the connection use the same address and a DNS answer that
changes between them (rebinding) cannot slip a private address in. Literal IP hosts never reach a resolver, so
`check_url_host` checks them before the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2000
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(value) for value in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
SUBSCRIPTION_RESOLVE_SECONDS = 3.0


class TargetRefused(OSError):
    """The receiver's address is one deliveries may not go to (aiohttp reports a resolver's OSError as a DNS error
    whose os_error is this)."""


class InvalidTarget(ValueError):
    """The URL cannot be a receiver at all (scheme, credentials in it, malformed)."""


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()

    def refusal(self, address: Address) -> str | None:
        """Why deliveries may not go to this address, or None when they may."""
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return self.refusal(embedded)
        if any(address in network for network in self.allowed_networks):
            return None
        if address.is_multicast or address.is_unspecified or address == ipaddress.IPv4Address("255.255.255.255"):
            return f"{address} is a multicast, broadcast or unspecified address"
        if address in METADATA_ADDRESSES:
            return f"{address} is a cloud metadata address"
        if address.is_global and not address.is_private:
            return None
        if self.allow_private:
            return None
        return f"{address} is not a public address (private, loopback, link-local or reserved)"


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
        if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def validate_url(url: str) -> str:
    """The URL as stored, or InvalidTarget saying why it cannot be a receiver."""
    if not isinstance(url, str) or not 8 <= len(url) <= MAX_URL_LENGTH:
        raise InvalidTarget(f"url must be an http or https URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidTarget("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidTarget("url must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidTarget("url must not carry credentials; verify the signature instead")
    if parts.fragment:
        raise InvalidTarget("url must not have a fragment")
    if port == 0:
        raise InvalidTarget("url has an invalid port")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise InvalidTarget("url must not contain spaces or control characters")
    return url


def check_url_host(url: str, policy: AddressPolicy) -> None:
    """A literal IP host is checked here (aiohttp connects to it without asking a resolver)."""
    host = urlsplit(url).hostname or ""
    address = literal_address(host)
    if address is not None:
        reason = policy.refusal(address)
        if reason is not None:
            raise TargetRefused(reason)
    elif host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        reason = policy.refusal(ipaddress.IPv4Address("127.0.0.1"))
        if reason is not None:
            raise TargetRefused(reason)


async def check_subscription_target(url: str, policy: AddressPolicy, resolver: AbstractResolver) -> None:
    """At subscription time: a literal address or a name that resolves only to refused addresses is refused. A name
    that does not resolve now is accepted (DNS may come later); every attempt checks again."""
    check_url_host(url, policy)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if literal_address(host) is not None:
        return
    try:
        async with asyncio.timeout(SUBSCRIPTION_RESOLVE_SECONDS):
            results = await resolver.resolve(host, parts.port or 443, family=socket.AF_UNSPEC)
    except (OSError, TimeoutError):
        return
    reasons = [policy.refusal(ipaddress.ip_address(result["host"])) for result in results]
    if reasons and all(reasons):
        raise TargetRefused(f"{host} resolves to {reasons[0]}")


class GuardedResolver(AbstractResolver):
    """Resolves with the inner resolver and returns only the allowed addresses (TargetRefused when none is)."""

    def __init__(self, inner: AbstractResolver, policy: AddressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [result for result in results if self._policy.refusal(ipaddress.ip_address(result["host"])) is None]
        if not allowed:
            reasons = [self._policy.refusal(ipaddress.ip_address(result["host"])) for result in results]
            raise TargetRefused(f"{host} resolves to {reasons[0] if reasons else 'no address'}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class StaticResolver(AbstractResolver):
    """Fixed answers (names to addresses); for tests and benchmarks that must not depend on real DNS."""

    def __init__(self, answers: dict[str, Iterable[str]] | None = None) -> None:
        self._answers: dict[str, list[str]] = {}
        for name, addresses in (answers or {}).items():
            self.answer(name, addresses)

    def answer(self, name: str, addresses: Iterable[str]) -> None:
        """From now on, name resolves to these addresses (a test changes them to play DNS rebinding)."""
        self._answers[name.lower()] = list(addresses)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self._answers.get(host.lower().rstrip("."))
        if not addresses:
            raise OSError(f"{host} does not resolve")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def default_resolver() -> AbstractResolver:
    return DefaultResolver()
