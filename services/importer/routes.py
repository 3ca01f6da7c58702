from __future__ import annotations

from aiohttp import web

from services.importer import handlers


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/import", handlers.post_import)
    app.router.add_get("/api/imports", handlers.list_imports)
    app.router.add_get("/api/imports/{job_id}", handlers.get_import)
    app.router.add_post("/api/imports/{job_id}/cancel", handlers.cancel_import)
    app.router.add_get("/api/mappers", handlers.list_mappers)
    app.router.add_post("/api/mappers", handlers.create_mapper)
    app.router.add_post("/api/mappers/preview", handlers.preview_mapper)
    app.router.add_get("/api/mappers/{mapper_id}", handlers.get_mapper)
    app.router.add_put("/api/mappers/{mapper_id}", handlers.update_mapper)
    app.router.add_delete("/api/mappers/{mapper_id}", handlers.delete_mapper)
