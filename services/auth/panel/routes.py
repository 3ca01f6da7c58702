"""The panel's route table, and what each page needs (checked by the same domain operations as the JSON API).

| method and path                                  | needs                                                      |
| ------------------------------------------------ | ---------------------------------------------------------- |
| GET  /panel/                                     | a signed-in session                                        |
| GET  /panel/api-keys (?all=true: admin)          | api_keys:read                                              |
| GET  /panel/api-keys/new, POST /panel/api-keys   | api_keys:create                                            |
| POST /panel/api-keys/{id}/revoke                 | api_keys:delete (own keys; any key: admin)                 |
| GET  /panel/users                                | users:read                                                 |
| GET  /panel/users/new, POST /panel/users         | users:create (an admin user: admin; only permissions held) |
| GET, POST /panel/users/{id}                      | users:update (an admin user: admin; admin flag: admin)     |
| POST /panel/users/{id}/api-access                | users:update, admin or every right of the user (panel.js)  |
| POST /panel/users/{id}/api-token/regenerate      | users:update, admin or every right of the user             |
| GET  /panel/apps, GET /panel/apps/{client_id}    | apps:read (own apps; every app: admin)                     |
| GET  /panel/apps/new, POST /panel/apps           | apps:create                                                |
| POST /panel/apps/{client_id}/secret/rotate       | apps:update                                                |
| POST /panel/apps/{client_id}/delete              | apps:delete                                                |
| GET  /panel/authorized-apps, POST .../revoke     | a signed-in session (one's own authorizations)             |
| GET, POST /panel/password                        | a signed-in session (and the current password)             |
| GET, POST /panel/users/{id}/password             | admin                                                      |
| GET  /panel/webhooks, .../{id}, .../deliveries   | webhooks:read (checked by the webhooks service: own; admin all) |
| GET  /panel/webhooks/new, POST /panel/webhooks   | webhooks:create                                            |
| POST /panel/webhooks/{id}, .../rotate-secret     | webhooks:update                                            |
| POST .../deliveries/{delivery_id}/resend         | webhooks:update                                            |
| POST /panel/webhooks/{id}/delete                 | webhooks:delete                                            |
| POST .../apiphp-tokens/{token_id}/revoke         | a signed-in session (one's own api.php tokens)             |
| GET  /panel/... anything else                    | a signed-in session (an HTML 404 page)                     |
Every POST carries the session's CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from services.auth.panel import (
    app_pages,
    authorization_pages,
    home,
    key_pages,
    password_pages,
    static_files,
    user_pages,
    webhook_pages,
)


def add_panel_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/panel", home.to_home),
            web.get("/panel/", home.home),
            web.get("/panel/static/panel.css", static_files.stylesheet),
            web.get("/panel/static/panel.js", static_files.script),
            web.get("/panel/api-keys", key_pages.list_keys),
            web.post("/panel/api-keys", key_pages.create_key),
            web.get("/panel/api-keys/new", key_pages.new_key),
            web.post("/panel/api-keys/{id}/revoke", key_pages.revoke_key),
            web.get("/panel/users", user_pages.list_users),
            web.post("/panel/users", user_pages.create_user),
            web.get("/panel/users/new", user_pages.new_user),
            web.get("/panel/users/{id}", user_pages.edit_user),
            web.post("/panel/users/{id}", user_pages.save_user),
            web.post("/panel/users/{id}/api-access", user_pages.enable_api_access),
            web.post("/panel/users/{id}/api-token/regenerate", user_pages.regenerate_token),
            web.get("/panel/apps", app_pages.list_apps),
            web.post("/panel/apps", app_pages.create_app),
            web.get("/panel/apps/new", app_pages.new_app),
            web.get("/panel/apps/{client_id}", app_pages.app_settings),
            web.post("/panel/apps/{client_id}/secret/rotate", app_pages.rotate_secret),
            web.post("/panel/apps/{client_id}/delete", app_pages.delete_app),
            web.get("/panel/password", password_pages.own_password),
            web.post("/panel/password", password_pages.change_own_password),
            web.get("/panel/users/{id}/password", password_pages.reset_form),
            web.post("/panel/users/{id}/password", password_pages.reset_password),
            web.get("/panel/authorized-apps", authorization_pages.list_authorized_apps),
            web.post("/panel/authorized-apps/{client_id}/revoke", authorization_pages.revoke_authorized_app),
            web.post("/panel/authorized-apps/apiphp-tokens/{token_id}/revoke", authorization_pages.revoke_apiphp_token),
            web.get("/panel/webhooks", webhook_pages.list_webhooks),
            web.post("/panel/webhooks", webhook_pages.create_webhook),
            web.get("/panel/webhooks/new", webhook_pages.new_webhook),
            web.get("/panel/webhooks/{id}", webhook_pages.edit_webhook),
            web.post("/panel/webhooks/{id}", webhook_pages.save_webhook),
            web.post("/panel/webhooks/{id}/delete", webhook_pages.delete_webhook),
            web.post("/panel/webhooks/{id}/rotate-secret", webhook_pages.rotate_secret),
            web.get("/panel/webhooks/{id}/deliveries", webhook_pages.deliveries),
            web.post("/panel/webhooks/{id}/deliveries/{delivery_id}/resend", webhook_pages.resend),
            web.get("/panel/{tail:.*}", home.not_found),
        ]
    )
