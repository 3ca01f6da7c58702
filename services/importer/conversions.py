"""Turning one CSV cell into a typed value for its field, as the mapper's column rule says."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.importer.mappers import ColumnRule

_INTEGER = re.compile(r"^[+-]?\d{1,20}$")
_DECIMAL = re.compile(r"^[+-]?(\d{1,30}(\.\d{0,30})?|\.\d{1,30})$")


class ConversionError(ValueError):
    """A cell that does not convert; the message says why without echoing more than the cell itself."""


def _text(rule: ColumnRule, value: str) -> str:
    if rule.case == "lower":
        value = value.lower()
    elif rule.case == "upper":
        value = value.upper()
    limit = rule.field.max_length
    if limit is not None and len(value) > limit:
        raise ConversionError(f"longer than {limit} characters")
    return value


def _integer(rule: ColumnRule, value: str) -> int:
    if not _INTEGER.match(value):
        raise ConversionError("not a whole number")
    number = int(value)
    limit = rule.field.integer_limit
    if limit is not None and not -limit <= number < limit:
        raise ConversionError("whole number out of range")
    return number


def _decimal(rule: ColumnRule, value: str) -> Decimal:
    if rule.decimal_separator != ".":
        if "." in value:
            raise ConversionError(f"not a decimal number (the decimal separator is {rule.decimal_separator!r})")
        value = value.replace(rule.decimal_separator, ".")
    if not _DECIMAL.match(value):
        raise ConversionError("not a decimal number")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ConversionError("not a decimal number") from None


def _boolean(rule: ColumnRule, value: str) -> bool:
    word = value.lower()
    if word in rule.true_values:
        return True
    if word in rule.false_values:
        return False
    raise ConversionError(f"not a yes/no value (expected one of {', '.join(rule.true_values + rule.false_values)})")


def _datetime(rule: ColumnRule, value: str) -> datetime:
    try:
        if rule.date_format:
            moment = datetime.strptime(value, rule.date_format)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        expected = rule.date_format or "ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
        raise ConversionError(f"not a date in the format {expected}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_CONVERTERS = {"text": _text, "integer": _integer, "decimal": _decimal, "boolean": _boolean, "datetime": _datetime}


CellConverter = Callable[[str | None], Any]


def compile_rule(rule: ColumnRule) -> CellConverter:
    """The converter of one column, with its decisions taken once rather than per cell.

    Values are data, never formulas: a cell like =HYPERLINK(...) is stored as the text it is.
    None means "no value" (NULL for a nullable field).
    """
    convert = _CONVERTERS[rule.field.kind]
    trim = rule.trim
    if rule.required or rule.field.required:
        empty_error: str | None = "a value is required"
        empty_value: Any = None
    elif rule.field.kind == "text" and not rule.field.nullable:
        empty_error, empty_value = None, ""
    elif not rule.field.nullable:
        empty_error, empty_value = "a value is required (or give the mapper a default)", None
    else:
        empty_error, empty_value = None, None
    if rule.default is not None:
        default_text = rule.default.strip() if trim else rule.default
        if default_text:
            empty_error, empty_value = None, convert(rule, default_text)

    def cell(raw: str | None) -> Any:
        value = (raw.strip() if trim else raw) if raw else ""
        if not value:
            if empty_error is not None:
                raise ConversionError(empty_error)
            return empty_value
        return convert(rule, value)

    return cell


def convert_cell(rule: ColumnRule, raw: str | None) -> Any:
    return compile_rule(rule)(raw)
