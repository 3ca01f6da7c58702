"""The containers' health check: exit 0 when the URL (a plain-HTTP readiness route) answers 200, else 1.

    python -I -S /app/deploy/container/ready.py http://127.0.0.1:8080/readyz

Compose runs it in every replica every few seconds, so it stays cheap: a socket and one HTTP/1.0 request, no
site-packages (`-S`) and no urllib (whose imports cost more than the check itself on a busy host).
"""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 2.5


def answers_ok(url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ValueError("expected http://HOST:PORT/PATH")
    request = f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.hostname}\r\n\r\n".encode("ascii")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
            sock.sendall(request)
            status_line = sock.makefile("rb").readline(256)
    except OSError:
        return False
    fields = status_line.split()
    return len(fields) >= 2 and fields[0].startswith(b"HTTP/") and fields[1] == b"200"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: ready.py http://HOST:PORT/PATH", file=sys.stderr)
        return 2
    return 0 if answers_ok(argv[0]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
