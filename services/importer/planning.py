"""Planning an import: where each mapped column is in the file, and what each CSV record becomes as a staged row.

Nothing here touches the database: a record is converted by the mapper's rules or rejected with a row error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from services.importer.conversions import CellConverter, ConversionError, compile_rule
from services.importer.csvstream import Record
from services.importer.entities import ImportField
from services.importer.mappers import ColumnRule, MapperDefinition

KEPT_ERRORS = 1000
MAX_ERROR_VALUE = 200
MAX_HEADER_COLUMNS = 1000


class JobFailed(Exception):
    """The job as a whole cannot be imported; nothing of it is written to the catalog."""

    def __init__(self, message: str, errors: RowErrors | None = None) -> None:
        super().__init__(message)
        self.errors = errors


class RowErrors:
    """The first KEPT_ERRORS row errors, and how many rows failed in all."""

    def __init__(self) -> None:
        self.kept: list[tuple[int, str | None, str | None, str]] = []
        self.total = 0

    def add(self, row: int, column: str | None, value: str | None, message: str) -> None:
        self.total += 1
        if len(self.kept) < KEPT_ERRORS:
            if value is not None and len(value) > MAX_ERROR_VALUE:
                value = value[:MAX_ERROR_VALUE] + "…"
            self.kept.append((row, column, value, message))


@dataclass(frozen=True)
class Layout:
    """Where each mapped column is in the file's rows; rules whose column is absent are left out."""

    rules: tuple[tuple[ColumnRule, int | None], ...]  # (rule, 0-based cell index or None: use the default)
    width: int | None  # the header's column count

    @property
    def fields(self) -> tuple[ImportField, ...]:
        return tuple(rule.field for rule, _ in self.rules)

    @cached_property
    def converters(self) -> tuple[CellConverter, ...]:
        return tuple(compile_rule(rule) for rule, _ in self.rules)


def plan_layout(definition: MapperDefinition, header: list[str] | None) -> Layout:
    if header is None:
        return Layout(rules=tuple((rule, int(rule.column) - 1) for rule in definition.columns), width=None)
    if len(header) > MAX_HEADER_COLUMNS:
        raise JobFailed(f"the header row has {len(header)} columns; at most {MAX_HEADER_COLUMNS} are accepted")
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    placed: list[tuple[ColumnRule, int | None]] = []
    missing: list[str] = []
    for rule in definition.columns:
        name = str(rule.column).lower()
        if name in names:
            placed.append((rule, names.index(name)))
        elif rule.default is not None:
            placed.append((rule, None))
        elif (
            rule.required
            or rule.field.name == definition.key
            or (rule.field.required and not definition.update_only)  # an update keeps the row's other fields
        ):
            missing.append(str(rule.column))
    if not any(index is not None for _, index in placed):
        expected = ", ".join(str(rule.column) for rule in definition.columns)
        raise JobFailed(f"the header row has none of the mapped columns (expected some of: {expected})")
    if missing:
        raise JobFailed(f"the header row lacks the required columns: {', '.join(missing)}")
    return Layout(rules=tuple(placed), width=len(header))


def convert_record(layout: Layout, record: Record, errors: RowErrors) -> tuple[Any, ...] | None:
    """The staged row (row number first), or None after recording why the row is rejected."""
    if record.cells is None:
        errors.add(record.line, None, None, record.problem or "not valid CSV")
        return None
    cells = record.cells
    if layout.width is not None and len(cells) != layout.width:
        errors.add(record.line, None, None, f"the row has {len(cells)} fields, the header has {layout.width}")
        return None
    values: list[Any] = [record.line]
    for (rule, index), convert in zip(layout.rules, layout.converters, strict=True):
        raw = cells[index] if index is not None and index < len(cells) else None
        try:
            values.append(convert(raw))
        except ConversionError as error:
            errors.add(record.line, rule.label, raw, f"{rule.field.name}: {error}")
            return None
    return tuple(values)
