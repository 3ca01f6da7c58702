"""What every panel handler goes through first: a signed-in session, the CSRF token on every form post, and
domain errors (the same Forbidden the JSON API answers) rendered as pages."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from html import escape

from aiohttp import web

from services.auth.panel import markup
from services.auth.panel.forms import Form, read_form
from services.auth.panel.responses import html, redirect
from services.auth.panel.signin import PanelUser, SignInRequired, signed_in_user
from shared.errors import ApiError

PageHandler = Callable[[web.Request, PanelUser], Awaitable[web.StreamResponse]]
FormHandler = Callable[[web.Request, PanelUser, Form], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_TITLES = {
    400: "The form could not be accepted",
    403: "Forbidden",
    404: "Not found",
    409: "Not possible now",
    415: "The form could not be accepted",
}


def error_page(error: ApiError, user: PanelUser | None) -> web.Response:
    title = ERROR_TITLES.get(error.status, "Something went wrong")
    content = f'<p class="error" role="alert">{escape(error.message)}</p><p><a href="/panel/">Back to the panel</a></p>'
    return html(markup.page(title, content, user), status=error.status)


def panel_page(handler: PageHandler) -> Handler:
    @functools.wraps(handler)
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            user = await signed_in_user(request)
        except SignInRequired as required:
            return redirect(required.location)
        try:
            return await handler(request, user)
        except ApiError as error:
            return error_page(error, user)

    return page


def panel_form(handler: FormHandler) -> Handler:
    @functools.wraps(handler)
    async def form_post(request: web.Request) -> web.StreamResponse:
        try:
            user = await signed_in_user(request)
        except SignInRequired as required:
            return redirect(required.location)
        try:
            form = await read_form(request)
            if not user.csrf_matches(form.get("csrf_token")):
                return html(
                    markup.page(
                        "Forbidden",
                        '<p class="error" role="alert">The form has expired or did not come from this panel. '
                        'Reload the page and try again.</p><p><a href="/panel/">Back to the panel</a></p>',
                        user,
                    ),
                    status=403,
                )
            return await handler(request, user, form)
        except ApiError as error:
            return error_page(error, user)

    return form_post
