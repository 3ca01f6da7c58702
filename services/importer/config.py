"""Settings of the importer service, read from the environment.

DATABASE_URL          PostgreSQL URL (required), e.g. postgresql://postgres@127.0.0.1:5432/platform
AMQP_URL              RabbitMQ URL (required), e.g. amqp://guest:guest@127.0.0.1:5672/
BUS_PREFIX            prefix of every exchange and queue name (default: platform)
LISTEN_HOST           address to listen on (default: 127.0.0.1)
LISTEN_PORT           port to listen on (default: 8083)
LOG_LEVEL             DEBUG, INFO, WARNING or ERROR (default: INFO)
INTERNAL_SIGNING_KEY  key of the gateway's signed principal, at least 32 characters (required)
SHUTDOWN_TIMEOUT      seconds an in-flight request or import job gets to finish on SIGTERM; a job still running
                      then is handed back to RabbitMQ and redone by another worker (default: 10)
STARTUP_TIMEOUT       seconds to wait for PostgreSQL and RabbitMQ at start-up (default: 30)
IMPORTER_WORKER       true: this replica also consumes import jobs; false: API only (default: true)
WORKER_PREFETCH       import jobs one worker holds at a time (default: 1)
MAX_UPLOAD_BYTES      largest accepted upload in bytes; larger ones get 413 (default: 104857600, 100 MiB)
UPLOAD_DEADLINE       seconds an upload may take from its first byte to its commit, however it trickles; past it,
                      408 (default: 600)
UPLOADS_PER_USER      uploads one user (or client) may have in progress at once in one replica; more get 429
                      (default: 2)
IMPORT_WAIT_SECONDS   how long POST /api/import (without Prefer: respond-async) waits for the job to end; a job
                      still running then is answered with its current status (default: 3600; 0: 202 at once)
IMPORT_KEEPALIVE_SECONDS  while it waits, one space is sent this often in the 200 answer's body so that no proxy
                      sees an idle connection; a job that ends sooner gets a plain answer (default: 10)
BATCH_ROWS            rows parsed, converted and written per batch; a batch is written while the next one is
                      parsed (default: 5000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import CommonConfig, read_bool, read_database_url, read_float, read_int

DEFAULT_PORT = 8083


@dataclass(frozen=True)
class Config:
    common: CommonConfig
    database_url: str
    startup_timeout: float
    worker_enabled: bool
    worker_prefetch: int
    max_upload_bytes: int
    import_wait_seconds: float
    batch_rows: int
    import_keepalive_seconds: float = 10.0
    upload_deadline: float = 600.0
    uploads_per_user: int = 2

    def __repr__(self) -> str:
        # The database URL may hold a password.
        return f"Config(common={self.common!r}, worker_enabled={self.worker_enabled})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        return cls(
            common=CommonConfig.from_env(environ, DEFAULT_PORT, service="importer"),
            database_url=read_database_url(environ),
            startup_timeout=read_float(environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0),
            worker_enabled=read_bool(environ, "IMPORTER_WORKER", True),
            worker_prefetch=read_int(environ, "WORKER_PREFETCH", 1, 1, 100),
            max_upload_bytes=read_int(environ, "MAX_UPLOAD_BYTES", 100 * 1024 * 1024, 1, 2**40),
            import_wait_seconds=read_float(environ, "IMPORT_WAIT_SECONDS", 3600.0, 0.0, 86_400.0),
            import_keepalive_seconds=read_float(environ, "IMPORT_KEEPALIVE_SECONDS", 10.0, 0.05, 300.0),
            batch_rows=read_int(environ, "BATCH_ROWS", 5000, 1, 1_000_000),
            upload_deadline=read_float(environ, "UPLOAD_DEADLINE", 600.0, 0.1, 86_400.0),
            uploads_per_user=read_int(environ, "UPLOADS_PER_USER", 2, 1, 1000),
        )
