"""Mapper definitions: which CSV column feeds which field, how each value converts, and the CSV dialect.

A mapper is checked against the entity model when it is saved, so a worker only ever runs valid ones.

    {"delimiter": ",", "quote": "\\"", "encoding": "utf-8", "header": true, "key": "sku",
     "columns": [{"column": "sku", "field": "sku", "required": true},
                 {"column": "Price", "field": "price", "decimalSeparator": ","},
                 {"column": "active", "field": "active", "trueValues": ["ja"], "falseValues": ["nein"]},
                 {"column": "placed", "field": "placed_at", "dateFormat": "%d.%m.%Y"},
                 {"column": "email", "field": "email", "case": "lower", "trim": true, "default": "x@example.com"}]}

"key" is the natural key existing rows are updated by (the entity's, e.g. sku); null makes the import insert-only.
"updateOnly": true makes it update-only: a row whose key is not in the catalog is rejected, never inserted, so the
fields an insert needs need not be mapped.
With "header": false, "column" is the 1-based position of the column instead of its name.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from services.importer.entities import ImportEntity, ImportField
from shared.errors import BadRequest

MAPPER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "iso-8859-15")
MAX_COLUMNS = 200
MAX_COLUMN_NAME = 200
MAX_WORDS = 20
DEFAULT_TRUE = ("true", "yes", "y", "1", "on")
DEFAULT_FALSE = ("false", "no", "n", "0", "off")
_COLUMN_KEYS = {
    "column",
    "field",
    "trim",
    "case",
    "decimalSeparator",
    "trueValues",
    "falseValues",
    "dateFormat",
    "default",
    "required",
}
_DEFINITION_KEYS = {"delimiter", "quote", "encoding", "header", "key", "updateOnly", "columns"}


class InvalidMapper(BadRequest):
    code = "invalid_mapper"


@dataclass(frozen=True)
class ColumnRule:
    column: str | int  # header name, or 1-based position without a header
    field: ImportField
    trim: bool = True
    case: str | None = None  # lower | upper
    decimal_separator: str = "."
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE
    date_format: str | None = None  # strptime format; ISO 8601 when absent
    default: str | None = None  # raw text used when the cell is empty, converted like a cell
    required: bool = False

    @property
    def label(self) -> str:
        return str(self.column)


@dataclass(frozen=True)
class MapperDefinition:
    entity: ImportEntity
    delimiter: str
    quote: str
    encoding: str
    header: bool
    key: str | None
    columns: tuple[ColumnRule, ...]
    update_only: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(rule.field.name for rule in self.columns)


def _single_char(value: Any, name: str, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
        raise InvalidMapper(f"{name} must be one character (not a line break)", target=name)
    return value


def _words(value: Any, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if (
        not isinstance(value, list)
        or not value
        or len(value) > MAX_WORDS
        or not all(isinstance(word, str) and 0 < len(word.strip()) <= 50 for word in value)
    ):
        raise InvalidMapper(f"{name} must be a list of 1 to {MAX_WORDS} non-empty words", target=name)
    return tuple(word.strip().lower() for word in value)


def _column_rule(entity: ImportEntity, raw: Any, index: int, header: bool) -> ColumnRule:
    target = f"columns[{index}]"
    if not isinstance(raw, dict):
        raise InvalidMapper("each column must be an object", target=target)
    unknown = set(raw) - _COLUMN_KEYS
    if unknown:
        raise InvalidMapper(f"unknown column settings: {', '.join(sorted(unknown))}", target=target)
    column = raw.get("column")
    if header:
        if not isinstance(column, str) or not 0 < len(column.strip()) <= MAX_COLUMN_NAME:
            raise InvalidMapper(f"column must be the header name (1 to {MAX_COLUMN_NAME} characters)", target=target)
        column = column.strip()
    elif not isinstance(column, int) or isinstance(column, bool) or not 1 <= column <= 1000:
        raise InvalidMapper("without a header row, column must be the column's position (1, 2, ...)", target=target)
    field_name = raw.get("field")
    field = entity.field(field_name) if isinstance(field_name, str) else None
    if field is None:
        importable = ", ".join(f.name for f in entity.fields)
        raise InvalidMapper(
            f"{entity.name} has no importable field {field_name!r}; importable: {importable}", target=target
        )
    case = raw.get("case")
    if case not in (None, "lower", "upper"):
        raise InvalidMapper("case must be 'lower' or 'upper'", target=target)
    if case and field.kind != "text":
        raise InvalidMapper("case applies to text fields only", target=target)
    separator = _single_char(raw.get("decimalSeparator"), "decimalSeparator", ".")
    if "decimalSeparator" in raw and field.kind != "decimal":
        raise InvalidMapper("decimalSeparator applies to decimal fields only", target=target)
    if ("trueValues" in raw or "falseValues" in raw) and field.kind != "boolean":
        raise InvalidMapper("trueValues and falseValues apply to boolean fields only", target=target)
    true_values = _words(raw.get("trueValues"), "trueValues", DEFAULT_TRUE)
    false_values = _words(raw.get("falseValues"), "falseValues", DEFAULT_FALSE)
    if set(true_values) & set(false_values):
        raise InvalidMapper("a word cannot be both true and false", target=target)
    date_format = raw.get("dateFormat")
    if date_format is not None:
        if field.kind != "datetime":
            raise InvalidMapper("dateFormat applies to date fields only", target=target)
        if not isinstance(date_format, str) or "%" not in date_format or len(date_format) > 50:
            raise InvalidMapper("dateFormat must be a strptime format such as %Y-%m-%d", target=target)
    default = raw.get("default")
    if default is not None and (not isinstance(default, str | int | float) or isinstance(default, bool)):
        raise InvalidMapper("default must be a string or a number", target=target)
    for flag in ("trim", "required"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise InvalidMapper(f"{flag} must be true or false", target=target)
    rule = ColumnRule(
        column=column,
        field=field,
        trim=raw.get("trim", True),
        case=case,
        decimal_separator=separator,
        true_values=true_values,
        false_values=false_values,
        date_format=date_format,
        default=None if default is None else str(default),
        required=raw.get("required", False),
    )
    if rule.default is not None:
        from services.importer.conversions import ConversionError, convert_cell

        try:
            convert_cell(rule, rule.default)
        except ConversionError as error:
            raise InvalidMapper(f"default does not convert: {error}", target=target) from None
    return rule


def parse_definition(entity: ImportEntity, raw: Any) -> MapperDefinition:
    """Check a mapper definition against the entity model; raise InvalidMapper naming what is wrong."""
    if not isinstance(raw, dict):
        raise InvalidMapper("definition must be a JSON object", target="definition")
    unknown = set(raw) - _DEFINITION_KEYS
    if unknown:
        raise InvalidMapper(f"unknown mapper settings: {', '.join(sorted(unknown))}", target="definition")
    delimiter = _single_char(raw.get("delimiter"), "delimiter", ",")
    quote = _single_char(raw.get("quote"), "quote", '"')
    if delimiter == quote:
        raise InvalidMapper("delimiter and quote must differ", target="quote")
    encoding = raw.get("encoding", "utf-8")
    if not isinstance(encoding, str) or encoding.lower() not in ENCODINGS:
        raise InvalidMapper(f"encoding must be one of {', '.join(ENCODINGS)}", target="encoding")
    encoding = codecs.lookup(encoding).name if encoding.lower() != "utf-8-sig" else "utf-8-sig"
    header = raw.get("header", True)
    if not isinstance(header, bool):
        raise InvalidMapper("header must be true or false", target="header")
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, list) or not 0 < len(columns_raw) <= MAX_COLUMNS:
        raise InvalidMapper(f"columns must be a list of 1 to {MAX_COLUMNS} columns", target="columns")
    columns = tuple(_column_rule(entity, item, index, header) for index, item in enumerate(columns_raw))
    seen: set[str] = set()
    for rule in columns:
        if rule.field.name in seen:
            raise InvalidMapper(f"field {rule.field.name} is mapped twice", target="columns")
        seen.add(rule.field.name)
    key = raw.get("key", entity.key)
    if key is not None:
        if key != entity.key:
            allowed = f"{entity.key!r} or null (insert-only)" if entity.key else "null (insert-only)"
            raise InvalidMapper(f"key of {entity.name} must be {allowed}", target="key")
        if key not in seen:
            raise InvalidMapper(f"the key field {key} must be mapped", target="key")
    update_only = raw.get("updateOnly", False)
    if not isinstance(update_only, bool):
        raise InvalidMapper("updateOnly must be true or false", target="updateOnly")
    if update_only and key is None:
        raise InvalidMapper("an update-only mapper needs a key to find the rows it updates", target="updateOnly")
    missing = [f.name for f in entity.fields if f.required and f.name not in seen]
    if missing and not update_only:
        raise InvalidMapper(
            f"{entity.name} needs these fields on insert, map them: {', '.join(missing)}", target="columns"
        )
    return MapperDefinition(
        entity=entity,
        delimiter=delimiter,
        quote=quote,
        encoding=encoding,
        header=header,
        key=key,
        columns=columns,
        update_only=update_only,
    )
