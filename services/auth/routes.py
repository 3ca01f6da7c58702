"""The auth service's route table, and the permission each route needs (the caller is the signed principal).

| method and path                                 | needs                                                        |
| ----------------------------------------------- | ------------------------------------------------------------ |
| POST /internal/verify                           | an internal service principal (the gateway)                  |
| GET  /internal/users/{id}/access                | an internal service principal (the webhooks service)         |
| GET  /api/me                                    | any user credential                                          |
| POST /api/me/password                           | any user credential (and the current password)               |
| GET  /api/users, GET /api/users/{id}            | users:read (a user may always read themselves)               |
| POST /api/users                                 | users:create (is_admin: admin; only permissions one holds)   |
| PATCH /api/users/{id}                           | users:update (is_admin, an admin user, reactivating: admin)  |
| PUT  /api/users/{id}/permissions                | users:update (grant only permissions one holds)              |
| POST /api/users/{id}/api-access                 | users:update, and admin or every right the user holds        |
| GET  /api/users/{id}/api-token                  | users:update, and admin or every right the user holds        |
| POST /api/users/{id}/api-token/regenerate, save | users:update, and admin or every right the user holds        |
| POST /api/users/{id}/password                   | admin                                                        |
| GET  /api/keys (?all=true: admin)               | api_keys:read                                                |
| POST /api/keys                                  | api_keys:create (for another user_id: admin)                 |
| POST /api/keys/{id}/revoke                      | api_keys:delete (own keys; any key: admin)                   |
| POST /api/keys/{id}/rotate                      | api_keys:create (own keys; any key: admin)                   |
| GET  /api/audit                                 | admin                                                        |
| GET  /api/plugins                               | plugins:read                                                 |
| POST /api/plugins                               | plugins:create, an admin user (grants only what one holds)   |
| POST /api/plugins/{client_id}/secret/rotate     | plugins:update                                               |
| POST /api/plugins/{client_id}/revoke, DELETE    | plugins:delete                                               |
Every route but /internal/verify and GET /api/me also refuses a third-party app's token (OAuth, api.php): apps act
on data, never on users or credentials.
"""

from __future__ import annotations

from aiohttp import web

from services.auth import handlers, key_handlers, plugin_handlers, user_handlers


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.post("/internal/verify", handlers.verify),
            web.get("/internal/users/{id}/access", handlers.user_access),
            web.get("/api/me", handlers.me),
            web.post("/api/me/password", user_handlers.change_own_password),
            web.get("/api/audit", handlers.audit),
            web.get("/api/users", user_handlers.list_users),
            web.post("/api/users", user_handlers.create_user),
            web.get("/api/users/{id}", user_handlers.get_user),
            web.patch("/api/users/{id}", user_handlers.update_user),
            web.put("/api/users/{id}/permissions", user_handlers.set_permissions),
            web.post("/api/users/{id}/password", user_handlers.reset_password),
            web.post("/api/users/{id}/api-access", user_handlers.set_api_access),
            web.get("/api/users/{id}/api-token", user_handlers.show_api_token),
            web.post("/api/users/{id}/api-token/regenerate", user_handlers.regenerate_api_token),
            web.post("/api/users/{id}/api-token/save", user_handlers.save_api_token),
            web.get("/api/keys", key_handlers.list_keys),
            web.post("/api/keys", key_handlers.create_key),
            web.post("/api/keys/{id}/revoke", key_handlers.revoke_key),
            web.post("/api/keys/{id}/rotate", key_handlers.rotate_key),
            web.get("/api/plugins", plugin_handlers.list_plugins),
            web.post("/api/plugins", plugin_handlers.register_plugin),
            web.post("/api/plugins/{client_id}/secret/rotate", plugin_handlers.rotate_secret),
            web.post("/api/plugins/{client_id}/revoke", plugin_handlers.revoke_plugin),
            web.delete("/api/plugins/{client_id}", plugin_handlers.revoke_plugin),
        ]
    )
