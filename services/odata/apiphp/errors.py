"""api.php errors: seed 000's codes with the HTTP statuses Webasyst answers them with."""

from __future__ import annotations

from typing import ClassVar

from shared import apiphp_format


class ApiPhpError(Exception):
    code: ClassVar[str] = apiphp_format.INVALID_REQUEST
    status: ClassVar[int] = 400

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def body(self) -> dict[str, str]:
        return apiphp_format.error_body(self.code, self.description)


class InvalidRequest(ApiPhpError):
    """Seed 000: incorrectly formed request; additional information is contained in error_description."""


class BodyTooLarge(InvalidRequest):
    status = 413


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
    """Webasyst's answer for an id that names nothing (e.g. "Product not found")."""

    code = "invalid_param"
    status = 404
