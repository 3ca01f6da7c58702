"""Who the client is and whether it reached us over HTTPS, trusting forwarded headers only from known proxies.

Seed 002: "connections must be made with a secure HTTPS connection". Basic and API-key credentials travel in
clear on plain HTTP, so they are refused there, except from loopback (a local client never crosses a network),
from a trusted proxy that terminated TLS (X-Forwarded-Proto: https), or when the operator allows it explicitly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import web

from services.gateway.credentials import Credential
from shared.errors import Forbidden

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class HttpsRequired(Forbidden):
    code = "https_required"


@dataclass(frozen=True)
class ClientConnection:
    address: str | None
    secure: bool
    loopback: bool


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class TransportPolicy:
    trusted_proxies: tuple[Network, ...] = ()
    allow_insecure_http: bool = False

    def _trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.trusted_proxies)

    def connection(self, request: web.BaseRequest) -> ClientConnection:
        peer = _ip(request.remote)
        secure = request.secure
        client = peer
        if self._trusted(peer):
            proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
            secure = secure or proto == "https"
            # The rightmost address a trusted proxy did not add is the client.
            hops = [_ip(part) for value in request.headers.getall("X-Forwarded-For", []) for part in value.split(",")]
            for hop in reversed(hops):
                if hop is None:
                    break
                client = hop
                if not self._trusted(hop):
                    break
        return ClientConnection(
            address=str(client) if client is not None else None,
            secure=secure,
            loopback=peer is not None and peer.is_loopback and not self._trusted(peer),
        )

    def check(self, connection: ClientConnection, credential: Credential) -> None:
        if credential.kind not in ("api_key", "basic") or self.allow_insecure_http:
            return
        if connection.secure or connection.loopback:
            return
        raise HttpsRequired(
            "API keys and Basic credentials are accepted only over HTTPS; repeat the request with https://"
        )
