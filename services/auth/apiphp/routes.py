"""The api.php routes of the auth service (its page, GET/POST /api.php/auth, is services/auth/web's).

| method and path                          | who                                                                 |
| ---------------------------------------- | ------------------------------------------------------------------- |
| POST /api.php/token                      | public: code -> {"access_token": ...}                               |
| POST /api.php/revoke                     | the api.php token itself (gateway-verified)                         |
| GET  /api/apiphp/tokens                  | any user credential except an api.php token: the caller's tokens    |
| POST /api/apiphp/tokens/{id}/revoke      | same: revoke one of the caller's tokens                             |
"""

from __future__ import annotations

from aiohttp import web

from services.auth.apiphp import token_handlers


def add_apiphp_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.post("/api.php/token", token_handlers.exchange_code),
            web.post("/api.php/revoke", token_handlers.revoke_presented_token),
            web.get("/api/apiphp/tokens", token_handlers.list_tokens),
            web.post("/api/apiphp/tokens/{id}/revoke", token_handlers.revoke_token),
            web.delete("/api/apiphp/tokens/{id}", token_handlers.revoke_token),
        ]
    )
