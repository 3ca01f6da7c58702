"""Settings of the odata service, read from the environment.

DATABASE_URL          PostgreSQL URL (required), e.g. postgresql://postgres@127.0.0.1:5432/platform
LISTEN_HOST           address to listen on (default 127.0.0.1)
LISTEN_PORT           port to listen on (default 8082)
LOG_LEVEL             DEBUG, INFO, WARNING or ERROR (default INFO)
INTERNAL_SIGNING_KEY  key of the gateway's signed principal, at least 32 characters (required)
SHUTDOWN_TIMEOUT      seconds in-flight requests get to finish on SIGTERM (default 10)
STARTUP_TIMEOUT       seconds to wait for PostgreSQL at start-up before giving up (default 30)
MAX_PAGE_SIZE         most entities in one response; more are reached through @odata.nextLink (default 1000)
DEFAULT_PAGE_SIZE     entities per page when the client gives no $top (default 100)
STATEMENT_TIMEOUT_MS  PostgreSQL statement_timeout for every query, in milliseconds (default 5000)
PUBLIC_BASE_URL       external base URL used in @odata.context and @odata.nextLink (default: derived from the
                      request's Host and X-Forwarded-Proto, e.g. http://127.0.0.1:8080)
DATABASE_POOL_SIZE    most PostgreSQL connections held by one replica (default 10)
QUERY_MAX_ROWS        most rows one Query API document may read, roots and relations together; more is a 400
                      naming the limit (default 10000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import CommonConfig, ConfigError, read_database_url, read_float, read_int, read_url

DEFAULT_PORT = 8082


@dataclass(frozen=True)
class Config:
    common: CommonConfig
    database_url: str
    startup_timeout: float
    max_page_size: int
    default_page_size: int
    statement_timeout_ms: int
    public_base_url: str | None
    pool_size: int
    query_max_rows: int = 10_000

    def __repr__(self) -> str:
        # The database URL may hold a password.
        return f"Config(common={self.common!r}, max_page_size={self.max_page_size})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        max_page_size = read_int(environ, "MAX_PAGE_SIZE", 1000, 1, 100_000)
        default_page_size = read_int(environ, "DEFAULT_PAGE_SIZE", 100, 1, 100_000)
        if default_page_size > max_page_size:
            raise ConfigError("DEFAULT_PAGE_SIZE must not be larger than MAX_PAGE_SIZE")
        base = environ.get("PUBLIC_BASE_URL", "").strip()
        return cls(
            common=CommonConfig.from_env(environ, DEFAULT_PORT, service="odata", needs_bus=False),
            database_url=read_database_url(environ),
            startup_timeout=read_float(environ, "STARTUP_TIMEOUT", 30.0, 0.1, 3600.0),
            max_page_size=max_page_size,
            default_page_size=default_page_size,
            statement_timeout_ms=read_int(environ, "STATEMENT_TIMEOUT_MS", 5000, 1, 600_000),
            public_base_url=read_url(environ, "PUBLIC_BASE_URL", ("http", "https")) if base else None,
            pool_size=read_int(environ, "DATABASE_POOL_SIZE", 10, 1, 1000),
            query_max_rows=read_int(environ, "QUERY_MAX_ROWS", 10_000, 1, 1_000_000),
        )
