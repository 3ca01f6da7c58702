"""The platform's events for webhook subscribers: one frozen dataclass per event type, versioned, JSON on the bus.

The service that owns a fact publishes its event through its transactional outbox (the auth service when a
credential or app changes, the importer when a job ends); the webhooks service turns each into deliveries. KIND is
the public event type a subscription names. `event_id` is unique per fact and stable across re-publication, so a
repeated message is one event.
PERMISSION is the right the subscription's owner must hold for the event to reach them; audience() names the users
the fact concerns (None: anyone holding PERMISSION may see it; otherwise only those users, and admins).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from shared.messages import Message, MessageError

# Ids of one kind of change carried by one product event: large imports become several events, never one huge one.
MAX_IDS_PER_EVENT = 1000


def requester_audience(requested_by: str) -> tuple[int, ...]:
    """Who may see an import job besides admins: the importer's job owner "user:<id>"; any other owner (a service)
    leaves the job to admins."""
    kind, _, value = requested_by.partition(":")
    return (int(value),) if kind == "user" and value.isdigit() else ()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PlatformEvent(Message):
    PERMISSION: ClassVar[str] = ""
    event_id: str
    occurred_at: str

    def audience(self) -> tuple[int, ...] | None:
        return None

    def data(self) -> dict[str, Any]:
        """What a receiver gets under "data"."""
        body = asdict(self)
        del body["event_id"], body["occurred_at"]
        return body


@dataclass(frozen=True)
class ApiKeyCreated(PlatformEvent):
    KIND: ClassVar[str] = "api_key.created"
    PERMISSION: ClassVar[str] = "api_keys:read"
    key_id: str
    user_id: int
    name: str
    prefix: str
    expires_at: str | None = None
    rotated_from: str | None = None

    def audience(self) -> tuple[int, ...] | None:
        return (self.user_id,)


@dataclass(frozen=True)
class ApiKeyRevoked(PlatformEvent):
    KIND: ClassVar[str] = "api_key.revoked"
    PERMISSION: ClassVar[str] = "api_keys:read"
    key_id: str
    user_id: int
    reason: str

    def audience(self) -> tuple[int, ...] | None:
        return (self.user_id,)


@dataclass(frozen=True)
class AppAuthorized(PlatformEvent):
    KIND: ClassVar[str] = "app.authorized"
    PERMISSION: ClassVar[str] = "apps:read"
    client_id: str
    user_id: int
    scopes: list[str]

    def audience(self) -> tuple[int, ...] | None:
        return (self.user_id,)


@dataclass(frozen=True)
class AppRevoked(PlatformEvent):
    KIND: ClassVar[str] = "app.revoked"
    PERMISSION: ClassVar[str] = "apps:read"
    client_id: str
    user_id: int

    def audience(self) -> tuple[int, ...] | None:
        return (self.user_id,)


@dataclass(frozen=True)
class UserApiAccessChanged(PlatformEvent):
    KIND: ClassVar[str] = "user.api_access_changed"
    PERMISSION: ClassVar[str] = "users:read"
    user_id: int
    enabled: bool

    def audience(self) -> tuple[int, ...] | None:
        return (self.user_id,)


@dataclass(frozen=True)
class ImportCompleted(PlatformEvent):
    KIND: ClassVar[str] = "import.completed"
    PERMISSION: ClassVar[str] = "imports:read"
    job_id: str
    entity: str
    imported: int
    updated: int
    failed: int
    status_url: str
    # The importer's owner of the job (who may read it besides admins), never shown to receivers.
    requested_by: str

    def audience(self) -> tuple[int, ...] | None:
        return requester_audience(self.requested_by)

    def data(self) -> dict[str, Any]:
        body = super().data()
        del body["requested_by"]
        return body


@dataclass(frozen=True)
class ImportFailed(PlatformEvent):
    KIND: ClassVar[str] = "import.failed"
    PERMISSION: ClassVar[str] = "imports:read"
    job_id: str
    entity: str
    imported: int
    updated: int
    failed: int
    status_url: str
    error: str | None
    requested_by: str

    def audience(self) -> tuple[int, ...] | None:
        return requester_audience(self.requested_by)

    def data(self) -> dict[str, Any]:
        body = super().data()
        del body["requested_by"]
        return body


@dataclass(frozen=True)
class ProductsChanged(PlatformEvent):
    """Base of product.created|updated|deleted: the ids one write (an import job) touched, at most
    MAX_IDS_PER_EVENT per event; part and parts say which slice of the job's ids this is."""

    PERMISSION: ClassVar[str] = "products:read"
    ids: list[int]
    job_id: str | None
    part: int
    parts: int


@dataclass(frozen=True)
class ProductsCreated(ProductsChanged):
    KIND: ClassVar[str] = "product.created"


@dataclass(frozen=True)
class ProductsUpdated(ProductsChanged):
    KIND: ClassVar[str] = "product.updated"


@dataclass(frozen=True)
class ProductsDeleted(ProductsChanged):
    KIND: ClassVar[str] = "product.deleted"


EVENT_CLASSES: dict[str, type[PlatformEvent]] = {
    cls.KIND: cls
    for cls in (
        ImportCompleted,
        ImportFailed,
        ProductsCreated,
        ProductsUpdated,
        ProductsDeleted,
        ApiKeyCreated,
        ApiKeyRevoked,
        AppAuthorized,
        AppRevoked,
        UserApiAccessChanged,
    )
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_CLASSES)


def decode_event(body: bytes, kind: str | None) -> PlatformEvent:
    """The event a bus message holds; MessageError when it is no platform event of a known kind."""
    cls = EVENT_CLASSES.get(kind or "")
    if cls is None:
        raise MessageError(f"not a platform event: {kind!r}")
    return cls.decode(body)


def product_events(
    cls: type[ProductsChanged], ids: list[int], *, job_id: str, occurred_at: str
) -> list[ProductsChanged]:
    """The ids cut into events of at most MAX_IDS_PER_EVENT, each with an id stable for this job and slice."""
    parts = (len(ids) + MAX_IDS_PER_EVENT - 1) // MAX_IDS_PER_EVENT
    return [
        cls(
            event_id=f"{cls.KIND}:{job_id}:{part}",
            occurred_at=occurred_at,
            ids=ids[(part - 1) * MAX_IDS_PER_EVENT : part * MAX_IDS_PER_EVENT],
            job_id=job_id,
            part=part,
            parts=parts,
        )
        for part in range(1, parts + 1)
    ]


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"
