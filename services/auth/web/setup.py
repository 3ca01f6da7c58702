"""Adding the pages to the auth service's application: one template environment, the static files, the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.auth.apiphp.keys import APIPHP_TOKENS
from services.auth.keys import CONFIG
from services.auth.oauth.keys import OAUTH
from services.auth.platform import CALL_TIMEOUT_SECONDS, PlatformClient
from services.auth.web.keys import PLATFORM, STATIC
from services.auth.web.rendering import moment
from services.auth.web.routes import add_page_routes
from services.auth.web.static import StaticFiles


def setup_web(app: web.Application) -> None:
    """Call after setup_oauth and setup_apiphp: the pages sign visitors in with the OAuth server's session store
    (app[OAUTH]) and show api.php's tokens (app[APIPHP_TOKENS])."""
    if OAUTH not in app or APIPHP_TOKENS not in app:
        raise RuntimeError("setup_web needs the OAuth server and api.php: call setup_oauth and setup_apiphp first")
    static = StaticFiles.from_package()
    app[STATIC] = static
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("services.auth.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["static_url"] = static.url
    environment.filters["moment"] = moment
    app.cleanup_ctx.append(platform_client)
    add_page_routes(app)


async def platform_client(app: web.Application) -> AsyncIterator[None]:
    """The dashboard's HTTP client for the other services: short timeouts, so a service that is down costs the page
    two seconds at most."""
    config = app[CONFIG]
    timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        services = {"gateway": config.gateway_url, "odata": config.odata_url, "importer": config.importer_url}
        app[PLATFORM] = PlatformClient(
            session, services, config.gateway_url, config.importer_url, config.common.signing_key.bytes
        )
        yield
