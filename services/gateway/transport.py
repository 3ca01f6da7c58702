"""Who the client is and whether it reached us over HTTPS, trusting forwarded headers only from known proxies.

Credentials travel over HTTPS only (docs/api-keys-and-basic.md). Every request that may carry a secret (an
API key, Basic credentials, a bearer or api.php token, a password typed on the login page, an authorization code,
a client secret, a session cookie) travels in clear on plain HTTP, so it is refused there, except from loopback (a
local client never crosses a network), from a trusted proxy that terminated TLS (X-Forwarded-Proto: https), or when
the operator allows it explicitly. Every answer over HTTPS carries Strict-Transport-Security (RFC 6797), so a
browser that has been here once never tries plain HTTP again.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import web

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
    hsts_max_age: int = 31_536_000

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

    def check(self, connection: ClientConnection) -> None:
        """Refuses a secret-bearing request that reached us in clear from beyond this host."""
        if self.allow_insecure_http or connection.secure or connection.loopback:
            return
        raise HttpsRequired(
            "This request carries a secret (a credential, a password, a code or a session cookie) and is accepted "
            "only over HTTPS; repeat it with https://"
        )

    def is_secure(self, request: web.BaseRequest) -> bool:
        if request.secure:
            return True
        if not self._trusted(_ip(request.remote)):
            return False
        return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"

    async def add_hsts(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """on_response_prepare: every answer over HTTPS, errors and streamed bodies included."""
        if self.is_secure(request):
            response.headers["Strict-Transport-Security"] = f"max-age={self.hsts_max_age}"
