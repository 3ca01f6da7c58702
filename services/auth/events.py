"""Announcing revocations on the bus, so every gateway drops what it cached for a credential or a user."""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import AbstractChannel

from shared.bus import Topology, publish
from shared.messages import CredentialRevoked

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0


class RevocationPublisher:
    """Publishes after the database change has committed: a gateway that re-verifies on the event must already
    see the weakened state, or it would cache the old answer again."""

    def __init__(self, channel: AbstractChannel, topology: Topology) -> None:
        self._channel = channel
        self._exchange = topology.auth_events_exchange

    async def announce(self, event: CredentialRevoked) -> bool:
        try:
            await asyncio.wait_for(publish(self._channel, self._exchange, event), PUBLISH_TIMEOUT_SECONDS)
        except Exception as error:  # the change is committed; gateways still drop it when their cache entry ages out
            log.error(
                "could not announce revocation %s of %s/%s: %s",
                event.reason,
                event.credential_kind,
                event.credential_id or event.user_id,
                type(error).__name__,
            )
            return False
        return True

    async def key_revoked(self, key_id: str, user_id: int, reason: str) -> bool:
        return await self.announce(
            CredentialRevoked(reason=reason, credential_kind="api_key", credential_id=key_id, user_id=user_id)
        )

    async def token_revoked(self, user_id: int, reason: str) -> bool:
        return await self.announce(
            CredentialRevoked(
                reason=reason, credential_kind="api_token", credential_id=f"api_token:{user_id}", user_id=user_id
            )
        )

    async def user_weakened(self, user_id: int, reason: str) -> bool:
        return await self.announce(CredentialRevoked(reason=reason, user_id=user_id))
