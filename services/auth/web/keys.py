"""Typed keys of the web layer's state on the application and on a request."""

from __future__ import annotations

from aiohttp import web

from services.auth.platform import PlatformClient
from services.auth.web.importer_api import ImporterApi
from services.auth.web.static import StaticFiles
from services.auth.web.visitor import Visitor

STATIC = web.AppKey("web_static", StaticFiles)
IMPORTER = web.AppKey("web_importer", ImporterApi)
PLATFORM = web.AppKey("web_platform", PlatformClient)
VISITOR = web.RequestKey("web_visitor", Visitor)
