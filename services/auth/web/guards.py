"""What every control-panel view goes through first: a signed-in session, the CSRF token on every form post, and
domain errors (the same Forbidden the JSON API answers) rendered as pages."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.auth.web.forms import Form, read_form
from services.auth.web.rendering import Page, redirect, render
from services.auth.web.signin import SignInRequired, require_user
from services.auth.web.visitor import SignedInUser
from shared.errors import ApiError

Answer = Page | web.StreamResponse
PageView = Callable[[web.Request, SignedInUser], Awaitable[Answer]]
FormView = Callable[[web.Request, SignedInUser, Form], Awaitable[Answer]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_TITLES = {
    400: "The form could not be accepted",
    403: "Forbidden",
    404: "Not found",
    409: "Not possible now",
    413: "The form could not be accepted",
    415: "The form could not be accepted",
}
EXPIRED_FORM = "The form has expired or did not come from this panel. Reload the page and try again."


def error_page(status: int, message: str) -> Page:
    title = ERROR_TITLES.get(status, "Something went wrong")
    return Page("error.html", {"title": title, "message": message}, status=status)


async def answer(request: web.Request, result: Answer) -> web.StreamResponse:
    return await render(request, result) if isinstance(result, Page) else result


def panel_page(view: PageView) -> Handler:
    @functools.wraps(view)
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            _, user = await require_user(request)
        except SignInRequired as required:
            return redirect(required.location)
        try:
            return await answer(request, await view(request, user))
        except ApiError as error:
            return await render(request, error_page(error.status, error.message))

    return page


def panel_form(view: FormView) -> Handler:
    @functools.wraps(view)
    async def form_post(request: web.Request) -> web.StreamResponse:
        try:
            visitor, user = await require_user(request)
        except SignInRequired as required:
            return redirect(required.location)
        try:
            form = await read_form(request)
            if not visitor.csrf_matches(form.get("csrf_token")):
                return await render(request, error_page(403, EXPIRED_FORM))
            return await answer(request, await view(request, user, form))
        except ApiError as error:
            return await render(request, error_page(error.status, error.message))

    return form_post
