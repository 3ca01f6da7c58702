"""Wiring the api.php access point into the auth service's application.

Call after create_app and setup_oauth (the flow signs users in with the OAuth server's session store):
    setup_oauth(app, config, OAuthConfig.from_env(environ)); setup_apiphp(app)
"""

from __future__ import annotations

from aiohttp import web

from services.auth.apiphp.hashing import ApiPhpHasher
from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.apiphp.routes import add_apiphp_routes
from services.auth.apiphp.tokens import ApiPhpTokens
from services.auth.keys import CONFIG, VERIFIER
from services.auth.oauth.keys import OAUTH


def setup_apiphp(app: web.Application) -> None:
    if OAUTH not in app:
        raise RuntimeError("setup_apiphp needs the OAuth server's sign-in sessions: call setup_oauth first")
    config = app[CONFIG]
    tokens = ApiPhpTokens(ApiPhpHasher(config.secret_pepper.bytes), config.verify_cache_ttl, config.apiphp_token_ttl)
    app[APIPHP_TOKENS] = tokens
    # /internal/verify kind "bearer" now recognises api.php tokens (32 hex digits; other tokens pass on).
    app[VERIFIER].add_bearer_check(tokens.verify)
    add_apiphp_routes(app)
