"""Messages on the bus: one frozen dataclass per kind, versioned, JSON on the wire."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

M = TypeVar("M", bound="Message")


class MessageError(ValueError):
    """A message body that is not JSON of the expected kind and version."""


@dataclass(frozen=True)
class Message:
    KIND: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.KIND, "version": self.VERSION, **asdict(self)}

    def encode(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls: type[M], data: dict[str, Any]) -> M:
        if data.get("kind") != cls.KIND:
            raise MessageError(f"expected a {cls.KIND} message, got {data.get('kind')!r}")
        if data.get("version") != cls.VERSION:
            raise MessageError(f"unsupported {cls.KIND} version {data.get('version')!r}")
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{key: value for key, value in data.items() if key in names})
        except TypeError as error:
            raise MessageError(f"malformed {cls.KIND} message: {error}") from None

    @classmethod
    def decode(cls: type[M], body: bytes) -> M:
        try:
            data = json.loads(body)
        except ValueError:
            raise MessageError(f"a {cls.KIND} message is not JSON") from None
        if not isinstance(data, dict):
            raise MessageError(f"a {cls.KIND} message is not a JSON object")
        return cls.from_dict(data)


@dataclass(frozen=True)
class ImportJobRequested(Message):
    """The import API stored an upload and asks a worker to process it."""

    KIND: ClassVar[str] = "import.requested"
    job_id: str
    entity: str
    mapper_id: str


@dataclass(frozen=True)
class ImportJobProgress(Message):
    KIND: ClassVar[str] = "import.progress"
    job_id: str
    rows_done: int
    rows_total: int | None


@dataclass(frozen=True)
class ImportJobFinished(Message):
    """A worker finished a job (completed or failed): 'reports results back'."""

    KIND: ClassVar[str] = "import.finished"
    job_id: str
    status: str
    imported: int
    updated: int
    failed: int


@dataclass(frozen=True)
class CredentialRevoked(Message):
    """A credential or a user's rights were weakened: every gateway drops what it cached for them.

    credential_id set: drop that credential. user_id set without credential_id: drop every credential
    of that user (deactivated, permissions removed, API access disabled). not_before (seconds since the epoch, the
    auth service's clock): the user's OAuth access tokens issued before it are refused.
    """

    KIND: ClassVar[str] = "auth.credential_revoked"
    reason: str
    credential_kind: str | None = None
    credential_id: str | None = None
    user_id: int | None = None
    not_before: float | None = None
    # Seconds since the epoch when the auth service recorded the event (gateways measure the revocation lag).
    created_at: float | None = None
