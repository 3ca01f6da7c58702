"""The webhooks service's route table; permissions are checked in the handlers (services/webhooks/subscriptions.py).

| method and path                                                | needs           |
| -------------------------------------------------------------- | --------------- |
| GET    /api/webhooks                                           | webhooks:read   |
| POST   /api/webhooks                                           | webhooks:create |
| GET    /api/webhooks/{id}                                      | webhooks:read   |
| PATCH  /api/webhooks/{id}                                      | webhooks:update |
| DELETE /api/webhooks/{id}                                      | webhooks:delete |
| POST   /api/webhooks/{id}/rotate-secret                        | webhooks:update |
| GET    /api/webhooks/{id}/deliveries                           | webhooks:read   |
| POST   /api/webhooks/{id}/deliveries/{delivery_id}/resend      | webhooks:update |
"""

from __future__ import annotations

from aiohttp import web

from services.webhooks import handlers


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/api/webhooks", handlers.list_subscriptions),
            web.post("/api/webhooks", handlers.create_subscription),
            web.get("/api/webhooks/{id}", handlers.get_subscription),
            web.patch("/api/webhooks/{id}", handlers.update_subscription),
            web.delete("/api/webhooks/{id}", handlers.delete_subscription),
            web.post("/api/webhooks/{id}/rotate-secret", handlers.rotate_secret),
            web.get("/api/webhooks/{id}/deliveries", handlers.list_deliveries),
            web.post("/api/webhooks/{id}/deliveries/{delivery_id}/resend", handlers.resend_delivery),
        ]
    )
