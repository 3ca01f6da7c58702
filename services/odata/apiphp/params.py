"""A method's parameters: the query string and, for POST, the urlencoded or multipart form, each bounded."""

from __future__ import annotations

from collections.abc import Iterable

from services.odata.apiphp.errors import InvalidRequest

MAX_PARAMETERS = 50
MAX_VALUE_LENGTH = 2000
# Read by the access point itself, never by a method (the gateway removes access_token before forwarding).
RESERVED = frozenset({"access_token", "format", "app", "method", "callback"})


class MethodParams:
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            if name in RESERVED:
                continue
            if name in self._values:
                raise InvalidRequest(f"Repeated parameter: {name[:32]}")
            if len(self._values) >= MAX_PARAMETERS:
                raise InvalidRequest(f"At most {MAX_PARAMETERS} parameters")
            if len(value) > MAX_VALUE_LENGTH:
                raise InvalidRequest(f"Invalid {name[:32]}: longer than {MAX_VALUE_LENGTH} characters")
            self._values[name] = value

    def integer(self, name: str, minimum: int, maximum: int, default: int | None = None) -> int:
        value = self._values.get(name, "").strip()
        if not value:
            if default is None:
                raise InvalidRequest(f"Required parameter is missing: {name}")
            return default
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            raise InvalidRequest(f"Invalid {name}: a whole number is expected")
        number = int(value)
        if not minimum <= number <= maximum:
            raise InvalidRequest(f"Invalid {name}: between {minimum} and {maximum} is expected")
        return number

    def optional_integer(self, name: str, minimum: int, maximum: int) -> int | None:
        return self.integer(name, minimum, maximum) if self._values.get(name, "").strip() else None

    def text(self, name: str, maximum: int) -> str:
        value = self._values.get(name, "").strip()
        if not value:
            raise InvalidRequest(f"Required parameter is missing: {name}")
        if len(value) > maximum:
            raise InvalidRequest(f"Invalid {name}: longer than {maximum} characters")
        if any(ord(char) < 0x20 for char in value):
            raise InvalidRequest(f"Invalid {name}: control characters")
        return value

    def optional_text(self, name: str, maximum: int) -> str | None:
        return self.text(name, maximum) if self._values.get(name, "").strip() else None
