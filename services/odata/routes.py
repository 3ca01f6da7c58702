from __future__ import annotations

from aiohttp import web

from services.odata import handlers
from services.odata.apiphp.handlers import call_method as call_apiphp_method


def add_routes(app: web.Application) -> None:
    app.router.add_get("/odata", handlers.get_service_document)
    app.router.add_get("/odata/", handlers.get_service_document)
    app.router.add_get("/odata/$metadata", handlers.get_metadata)
    app.router.add_get("/odata/{resource_path:.+}", handlers.get_resource)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        app.router.add_route(method, "/odata/{resource_path:.*}", handlers.refuse_modification)
    app.router.add_post("/api/query", handlers.post_query)
    app.router.add_route("*", "/api.php{tail:(/.*)?}", call_apiphp_method)
