"""Every page route of the auth service, and what each page needs (the control panel's checks are the same domain
operations, so the same permissions, as the JSON API).

| method and path                                  | needs                                                      |
| ------------------------------------------------ | ---------------------------------------------------------- |
| GET, POST /auth/login, POST /auth/logout         | public (CSRF token of the login session)                   |
| GET, POST /auth/oauth/authorize                  | public: sign-in (redirect), then the consent page          |
| GET /auth/authorizations, POST .../revoke        | a signed-in session (one's own authorizations)             |
| GET, POST /api.php/auth                          | public: sign-in (redirect), then the access request page   |
| GET  /panel/static/{name}                        | public: the stylesheet and the script                      |
| GET  /panel/ (the dashboard)                     | a signed-in session (keys: api_keys:read; imports:         |
|                                                  | imports:read, checked by the importer; health: admin)      |
| GET  /panel/api-keys (?all=true: admin)          | api_keys:read                                              |
| GET  /panel/api-keys/new, POST /panel/api-keys   | api_keys:create (a scope only within one's permissions)    |
| GET, POST /panel/api-keys/{id}/rotate            | api_keys:create (own keys; any key: admin)                 |
| POST /panel/api-keys/{id}/revoke                 | api_keys:delete (own keys; any key: admin)                 |
| GET  /panel/users                                | users:read                                                 |
| GET  /panel/users/new, POST /panel/users         | users:create (an admin user: admin; only permissions held) |
| GET, POST /panel/users/{id}                      | users:update (an admin user: admin; admin flag: admin)     |
| POST /panel/users/{id}/api-access                | users:update, admin or every right of the user (app.js)    |
| POST /panel/users/{id}/api-token/regenerate      | users:update, admin or every right of the user             |
| GET  /panel/apps, GET /panel/apps/{client_id}    | apps:read (own apps; every app: admin)                     |
| GET  /panel/apps/new, POST /panel/apps           | apps:create                                                |
| POST /panel/apps/{client_id}/secret/rotate       | apps:update                                                |
| POST /panel/apps/{client_id}/delete              | apps:delete                                                |
| GET  /panel/authorized-apps, POST .../revoke     | a signed-in session (one's own authorizations)             |
| GET, POST /panel/password                        | a signed-in session (and the current password)             |
| GET, POST /panel/users/{id}/password             | admin                                                      |
| POST .../apiphp-tokens/{token_id}/revoke         | a signed-in session (one's own api.php tokens)             |
| GET  /panel/imports (filters: state, entity, time) | imports:read (the importer's: own jobs; all: admin)      |
| GET  /panel/imports/new, POST /panel/imports     | imports:create (+ the entity's rights; the importer's)     |
| GET  /panel/imports/{id}, .../progress (JSON)    | imports:read                                               |
| POST /panel/imports/{id}/cancel                  | imports:create                                             |
| GET  /panel/mappers, GET /panel/mappers/{id}     | mappers:read                                               |
| GET  /panel/mappers/new, POST /panel/mappers     | mappers:create (a preview: mappers:read)                   |
| POST /panel/mappers/{id}                         | mappers:update, its owner or an admin (preview: read)      |
| POST /panel/mappers/{id}/delete                  | mappers:delete, its owner or an admin                      |
| GET  /panel/webhooks, .../{id}, .../deliveries   | webhooks:read (checked by the webhooks service: own; admin all) |
| GET  /panel/webhooks/new, POST /panel/webhooks   | webhooks:create                                            |
| POST /panel/webhooks/{id}, .../rotate-secret     | webhooks:update                                            |
| POST .../deliveries/{delivery_id}/resend         | webhooks:update                                            |
| POST /panel/webhooks/{id}/delete                 | webhooks:delete                                            |
| GET  /panel/audit                                | admin                                                      |
| GET, POST /panel/developers                      | a signed-in session (requests listed to admins)            |
| POST /panel/developers/{user_id}/approve, decline| admin                                                      |
| GET  /panel/plugins, POST /panel/plugins         | plugins:read, plugins:create (registering: an admin user)  |
| POST /panel/plugins/{client_id}/secret/rotate    | plugins:update                                             |
| POST /panel/plugins/{client_id}/revoke           | plugins:delete                                             |
| GET  /panel/... anything else                    | a signed-in session (an HTML 404 page)                     |
Every POST carries the session's CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from services.auth.web import (
    apiphp_views,
    app_views,
    audit_views,
    authorized_app_views,
    developer_views,
    home_views,
    import_views,
    key_views,
    login_views,
    mapper_views,
    oauth_views,
    password_views,
    plugin_views,
    user_views,
    webhook_views,
)
from services.auth.web.keys import STATIC


async def static_file(request: web.Request) -> web.StreamResponse:
    return request.app[STATIC].response(request.match_info["name"], request.query.get("v"))


def add_page_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/auth/login", login_views.login_form),
            web.post("/auth/login", login_views.login),
            web.post("/auth/logout", login_views.logout),
            web.get("/auth/oauth/authorize", oauth_views.authorize),
            web.post("/auth/oauth/authorize", oauth_views.decide),
            web.get("/auth/authorizations", oauth_views.authorizations),
            web.post("/auth/authorizations/revoke", oauth_views.revoke_authorization),
            web.get("/api.php/auth", apiphp_views.show_access_request),
            web.post("/api.php/auth", apiphp_views.decide),
            web.get("/panel", home_views.to_home),
            web.get("/panel/", home_views.home),
            web.get("/panel/static/{name}", static_file),
            web.get("/panel/api-keys", key_views.list_keys),
            web.post("/panel/api-keys", key_views.create_key),
            web.get("/panel/api-keys/new", key_views.new_key),
            web.get("/panel/api-keys/{id}/rotate", key_views.rotate_form),
            web.post("/panel/api-keys/{id}/rotate", key_views.rotate_key),
            web.post("/panel/api-keys/{id}/revoke", key_views.revoke_key),
            web.get("/panel/users", user_views.list_users),
            web.post("/panel/users", user_views.create_user),
            web.get("/panel/users/new", user_views.new_user),
            web.get("/panel/users/{id}", user_views.edit_user),
            web.post("/panel/users/{id}", user_views.save_user),
            web.post("/panel/users/{id}/api-access", user_views.enable_api_access),
            web.post("/panel/users/{id}/api-token/regenerate", user_views.regenerate_token),
            web.get("/panel/apps", app_views.list_apps),
            web.post("/panel/apps", app_views.create_app),
            web.get("/panel/apps/new", app_views.new_app),
            web.get("/panel/apps/{client_id}", app_views.app_settings),
            web.post("/panel/apps/{client_id}/secret/rotate", app_views.rotate_secret),
            web.post("/panel/apps/{client_id}/delete", app_views.delete_app),
            web.get("/panel/password", password_views.own_password),
            web.post("/panel/password", password_views.change_own_password),
            web.get("/panel/users/{id}/password", password_views.reset_form),
            web.post("/panel/users/{id}/password", password_views.reset_password),
            web.get("/panel/authorized-apps", authorized_app_views.list_authorized_apps),
            web.post("/panel/authorized-apps/{client_id}/revoke", authorized_app_views.revoke_authorized_app),
            web.post(
                "/panel/authorized-apps/apiphp-tokens/{token_id}/revoke", authorized_app_views.revoke_apiphp_token
            ),
            web.get("/panel/imports", import_views.list_imports),
            web.post("/panel/imports", import_views.create_import),
            web.get("/panel/imports/new", import_views.new_import),
            web.get("/panel/imports/{id}", import_views.show_import),
            web.get("/panel/imports/{id}/progress", import_views.import_progress_json),
            web.post("/panel/imports/{id}/cancel", import_views.cancel_import),
            web.get("/panel/mappers", mapper_views.list_mappers),
            web.post("/panel/mappers", mapper_views.create_mapper),
            web.get("/panel/mappers/new", mapper_views.new_mapper),
            web.get("/panel/mappers/{id}", mapper_views.edit_mapper),
            web.post("/panel/mappers/{id}", mapper_views.save_mapper),
            web.post("/panel/mappers/{id}/delete", mapper_views.delete_mapper),
            web.get("/panel/webhooks", webhook_views.list_webhooks),
            web.post("/panel/webhooks", webhook_views.create_webhook),
            web.get("/panel/webhooks/new", webhook_views.new_webhook),
            web.get("/panel/webhooks/{id}", webhook_views.edit_webhook),
            web.post("/panel/webhooks/{id}", webhook_views.save_webhook),
            web.post("/panel/webhooks/{id}/delete", webhook_views.delete_webhook),
            web.post("/panel/webhooks/{id}/rotate-secret", webhook_views.rotate_secret),
            web.get("/panel/webhooks/{id}/deliveries", webhook_views.deliveries),
            web.post("/panel/webhooks/{id}/deliveries/{delivery_id}/resend", webhook_views.resend),
            web.get("/panel/audit", audit_views.audit_log),
            web.get("/panel/developers", developer_views.developers_page),
            web.post("/panel/developers", developer_views.request_account),
            web.post("/panel/developers/{user_id}/approve", developer_views.approve),
            web.post("/panel/developers/{user_id}/decline", developer_views.decline),
            web.get("/panel/plugins", plugin_views.list_plugins),
            web.post("/panel/plugins", plugin_views.register_plugin),
            web.post("/panel/plugins/{client_id}/secret/rotate", plugin_views.rotate_secret),
            web.post("/panel/plugins/{client_id}/revoke", plugin_views.revoke_plugin),
            web.get("/panel/{tail:.*}", home_views.not_found),
        ]
    )
