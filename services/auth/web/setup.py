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
from services.auth.web.importer_api import ImporterApi
from services.auth.web.keys import IMPORTER, PLATFORM, STATIC
from services.auth.web.rendering import moment
from services.auth.web.routes import add_page_routes
from services.auth.web.static import StaticFiles
from services.auth.web.webhooks_client import webhooks_client


def setup_web(app: web.Application) -> None:
    """Call after setup_oauth and setup_apiphp: the pages sign visitors in with the OAuth server's session store
    (app[OAUTH]) and show api.php's tokens (app[APIPHP_TOKENS])."""
    if OAUTH not in app or APIPHP_TOKENS not in app:
        raise RuntimeError("setup_web needs the OAuth server and api.php: call setup_oauth and setup_apiphp first")
    static = StaticFiles.from_package()
    app[STATIC] = static
    config = app[CONFIG]
    app[IMPORTER] = ImporterApi(config.importer_url, config.common.signing_key.bytes)
    app.cleanup_ctx.append(importer_client)
    app.cleanup_ctx.append(webhooks_client)
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


async def importer_client(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client of the Imports and Mappers pages; it connects on its first call, not at start-up."""
    await app[IMPORTER].open()
    yield
    await app[IMPORTER].close()


async def platform_client(app: web.Application) -> AsyncIterator[None]:
    """The dashboard's HTTP client for the other services: short timeouts, so a service that is down costs the page
    two seconds at most."""
    config = app[CONFIG]
    timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        services = {"gateway": config.gateway_url, "odata": config.odata_url, "importer": config.importer_url}
        app[PLATFORM] = PlatformClient(
            session, services, config.gateway_metrics_url, config.importer_url, config.common.signing_key.bytes
        )
        yield
