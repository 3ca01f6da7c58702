"""The WWW-Authenticate challenges the gateway answers a refused credential with: RFC 7617 Basic, RFC 6750 Bearer."""

from __future__ import annotations

BASIC_CHALLENGE = 'Basic realm="api", charset="UTF-8"'


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


def bearer_challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    """RFC 6750 section 3: the realm, then the error code, its description and the scope that was needed."""
    params = ['realm="api"']
    if error:
        params.append(f'error="{error}"')
    if description:
        params.append(f'error_description="{_quoted(description)}"')
    if scope:
        params.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(params)
