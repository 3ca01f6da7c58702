"""api.php errors: the codes and HTTP statuses Webasyst's framework answers them with (waAPIController,
waAPIMethod, the shop app's methods); the table is in docs/apiphp.md."""

from __future__ import annotations

from typing import ClassVar

from shared import apiphp_format


class ApiPhpError(Exception):
    code: ClassVar[str] = apiphp_format.INVALID_REQUEST
    status: ClassVar[int] = 400

    def __init__(self, description: str | None = None, **extra: str) -> None:
        super().__init__(description or self.code)
        self.description = description
        self.extra = extra

    def body(self) -> dict[str, str]:
        # waAPIException puts its extra fields between error and error_description.
        return {"error": self.code, **self.extra} | apiphp_format.error_body(self.code, self.description)


class InvalidRequest(ApiPhpError):
    """Seed 000: incorrectly formed request; additional information is contained in error_description."""


class MethodNotAllowed(InvalidRequest):
    """waAPIMethod::getResponse: a method called with an HTTP method it does not take."""

    status = 405


class BodyTooLarge(InvalidRequest):
    status = 413


class AppNotInstalled(ApiPhpError):
    """waAPIController::execute: the app of APP.METHOD does not exist."""

    code = apiphp_format.APP_NOT_INSTALLED
    status = 400


class AccessDenied(ApiPhpError):
    """Seed 000: this token does not allow access to the specified method."""

    code = apiphp_format.ACCESS_DENIED
    status = 403


class InvalidMethod(ApiPhpError):
    """Seed 000: an unknown API method is being called."""

    code = apiphp_format.INVALID_METHOD
    status = 404


class InvalidToken(ApiPhpError):
    code = apiphp_format.INVALID_TOKEN
    status = 401


class InvalidParam(ApiPhpError):
    """waAPIMethod::get/post and the shop methods: a parameter is missing or its value is not acceptable."""

    code = apiphp_format.INVALID_PARAM
    status = 400


class NotFound(InvalidParam):
    """The shop methods' answer for an id that names nothing (e.g. "Product not found")."""

    status = 404


class ServerError(ApiPhpError):
    code = apiphp_format.SERVER_ERROR
    status = 500
