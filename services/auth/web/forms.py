"""Reading the panel's form posts: urlencoded only, a bounded number of fields, bounded values."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from shared.bodies import read_form as read_fields
from shared.errors import BadRequest, UnsupportedMediaType

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 200
MAX_VALUE_LENGTH = 25_000


@dataclass(frozen=True)
class Form:
    pairs: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        # Values include passwords and the CSRF token: only the field names may reach a log.
        return f"Form(fields={sorted({name for name, _ in self.pairs})!r})"

    def get(self, name: str) -> str | None:
        for key, value in self.pairs:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def ticked(self, name: str) -> bool:
        return self.get(name) is not None


async def read_form(request: web.Request) -> Form:
    if request.content_type != FORM_TYPE:
        raise UnsupportedMediaType(f"Send the form as {FORM_TYPE}")
    posted = await read_fields(request)
    if len(posted) > MAX_FIELDS:
        raise BadRequest("The form has too many fields")
    pairs = tuple((name, value) for name, value in posted.items() if isinstance(value, str))
    if any(len(value) > MAX_VALUE_LENGTH for _, value in pairs):
        raise BadRequest("A form field is too long")
    return Form(pairs)
