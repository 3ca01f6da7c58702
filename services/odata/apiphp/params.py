"""A method's parameters: the query string and the urlencoded or multipart form, each bounded.

Names follow PHP's conventions as Webasyst clients send them: `id[]` repeats (a list), `skus[0][price]` is one
field of one item of a list (read with `items`). A missing required parameter or a value a method cannot take is
Webasyst's `400 invalid_param` with waAPIMethod's wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from services.odata.apiphp.errors import InvalidParam, InvalidRequest

MAX_PARAMETERS = 200
MAX_VALUE_LENGTH = 20_000
MAX_LIST_ITEMS = 100
# Read by the access point itself, never by a method (the gateway removes access_token before forwarding).
RESERVED = frozenset({"access_token", "format", "app", "method", "callback"})
_ITEM = re.compile(r"^([a-z_]{1,32})\[(\d{1,3})\]\[([a-z_]{1,32})\]$")
_DECIMAL = re.compile(r"^\d{1,10}(?:\.\d{1,2})?$")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart form, read whole (its size is bounded by the access point)."""

    field: str
    filename: str
    content_type: str
    content: bytes


def _name(name: str) -> str:
    return name[:32]


def missing(name: str) -> InvalidParam:
    return InvalidParam(f"Required parameter is missing: “{_name(name)}”.")


def invalid(name: str, expected: str) -> InvalidParam:
    return InvalidParam(f"Invalid value of parameter “{_name(name)}”: {expected}.")


class MethodParams:
    def __init__(self, pairs: Iterable[tuple[str, str]], files: Iterable[UploadedFile] = ()) -> None:
        self._values: dict[str, str] = {}
        self._lists: dict[str, list[str]] = {}
        self.files = {upload.field: upload for upload in files}
        count = 0
        for name, value in pairs:
            if name in RESERVED:
                continue
            count += 1
            if count > MAX_PARAMETERS:
                raise InvalidRequest(f"At most {MAX_PARAMETERS} parameters")
            if len(value) > MAX_VALUE_LENGTH:
                raise invalid(name, f"longer than {MAX_VALUE_LENGTH} characters")
            if name.endswith("[]"):
                values = self._lists.setdefault(name[:-2], [])
                if len(values) >= MAX_LIST_ITEMS:
                    raise invalid(name, f"at most {MAX_LIST_ITEMS} values")
                values.append(value)
                continue
            if name in self._values:
                raise InvalidRequest(f"Repeated parameter: {_name(name)}")
            self._values[name] = value

    def given(self, name: str) -> bool:
        return bool(self._values.get(name, "").strip())

    def integer(self, name: str, minimum: int, maximum: int, default: int | None = None) -> int:
        value = self._values.get(name, "").strip()
        if not value:
            if default is None:
                raise missing(name)
            return default
        return parse_integer(name, value, minimum, maximum)

    def optional_integer(self, name: str, minimum: int, maximum: int) -> int | None:
        return self.integer(name, minimum, maximum) if self.given(name) else None

    def integers(self, name: str, minimum: int, maximum: int) -> list[int]:
        """`name=1,2,3` or `name[]=1&name[]=2`, at least one."""
        raw = self._lists.get(name) or [part for part in self._values.get(name, "").split(",") if part.strip()]
        if not raw:
            raise missing(name)
        if len(raw) > MAX_LIST_ITEMS:
            raise invalid(name, f"at most {MAX_LIST_ITEMS} values")
        return sorted({parse_integer(name, value.strip(), minimum, maximum) for value in raw})

    def text(self, name: str, maximum: int) -> str:
        value = self._values.get(name, "").strip()
        if not value:
            raise missing(name)
        return parse_text(name, value, maximum)

    def optional_text(self, name: str, maximum: int) -> str | None:
        return self.text(name, maximum) if self.given(name) else None

    def raw_text(self, name: str, maximum: int) -> str | None:
        """The value as sent (may be empty, may hold newlines: a description), or None when absent."""
        if name not in self._values:
            return None
        value = self._values[name]
        if len(value) > maximum:
            raise invalid(name, f"at most {maximum} characters")
        if any(ord(char) < 0x20 and char not in "\t\r\n" for char in value):
            raise invalid(name, "control characters")
        return value

    def optional_decimal(self, name: str) -> Decimal | None:
        return parse_decimal(name, self._values[name].strip()) if self.given(name) else None

    def optional_flag(self, name: str) -> bool | None:
        return parse_flag(name, self._values[name].strip()) if self.given(name) else None

    def items(self, name: str) -> list[dict[str, str]]:
        """The items of `name[N][field]=value`, in index order."""
        found: dict[int, dict[str, str]] = {}
        for key, value in self._values.items():
            match = _ITEM.match(key)
            if match and match.group(1) == name:
                found.setdefault(int(match.group(2)), {})[match.group(3)] = value
        if len(found) > MAX_LIST_ITEMS:
            raise invalid(name, f"at most {MAX_LIST_ITEMS} items")
        return [found[index] for index in sorted(found)]


def parse_integer(name: str, value: str, minimum: int, maximum: int) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise invalid(name, "a whole number is expected")
    number = int(value)
    if not minimum <= number <= maximum:
        raise invalid(name, f"between {minimum} and {maximum} is expected")
    return number


def parse_text(name: str, value: str, maximum: int) -> str:
    if len(value) > maximum:
        raise invalid(name, f"at most {maximum} characters")
    if any(ord(char) < 0x20 for char in value):
        raise invalid(name, "control characters")
    return value


def parse_decimal(name: str, value: str) -> Decimal:
    if not _DECIMAL.match(value):
        raise invalid(name, "a non-negative amount with at most 2 decimals is expected")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise invalid(name, "a non-negative amount is expected") from None


def parse_flag(name: str, value: str) -> bool:
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise invalid(name, "1 or 0 is expected")


def parse_datetime(name: str, value: str) -> datetime:
    """A date (YYYY-MM-DD, midnight UTC) or an ISO 8601 date and time (UTC when it names no offset)."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise invalid(name, "a date (YYYY-MM-DD) or date and time is expected") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
