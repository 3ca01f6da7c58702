"""Trying a mapper on the first lines of a CSV: the worker's own parsing, header layout and conversions, with nothing
written. What it cannot tell is what only the database decides (a reference to a missing row, an update-only key
not in the catalog): those rows show when the file is imported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.importer.conversions import ConversionError
from services.importer.csvstream import CsvFormatError, Record, read_records
from services.importer.importing import JobFailed, Layout, RowErrors, convert_record, plan_layout
from services.importer.mappers import MapperDefinition
from shared.errors import PayloadTooLarge

MAX_SAMPLE_BYTES = 64 * 1024
MAX_SAMPLE_ROWS = 50


class SampleTooLarge(PayloadTooLarge):
    code = "sample_too_large"


@dataclass(frozen=True)
class Preview:
    header: list[str] | None
    columns: list[dict[str, Any]]
    ignored_columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool
    problem: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "columns": self.columns,
            "ignoredColumns": self.ignored_columns,
            "rows": self.rows,
            "rowsShown": len(self.rows),
            "rowsFailed": sum(1 for row in self.rows if not row["ok"]),
            "truncated": self.truncated,
            "problem": self.problem,
        }


def _shown(value: Any) -> Any:
    """A converted value as JSON: decimals as their exact text, times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def _one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _first_records(definition: MapperDefinition, sample: bytes, wanted: int) -> tuple[list[Record], bool]:
    """The first `wanted` records, and whether the sample holds more."""
    records: list[Record] = []
    batches = read_records(
        _one_chunk(sample),
        encoding="utf-8",
        delimiter=definition.delimiter,
        quote=definition.quote,
        batch_rows=wanted + 1,
    )
    async with aclosing(batches):
        async for batch in batches:
            records.extend(batch)
            if len(records) > wanted:
                break
    return records[:wanted], len(records) > wanted


def _mapping(layout: Layout, header: list[str] | None, definition: MapperDefinition) -> list[dict[str, Any]]:
    placed = {id(rule): index for rule, index in layout.rules}
    columns = []
    for rule in definition.columns:
        index = placed.get(id(rule), -1)
        columns.append(
            {
                "column": rule.label,
                "field": rule.field.name,
                "kind": rule.field.kind,
                # 1-based position in the file; null when the column is absent (its default is used, if any)
                "position": None if index is None or index < 0 else index + 1,
                "usesDefault": index is None,
                "skipped": index == -1,
            }
        )
    return columns


def _row(layout: Layout, record: Record) -> dict[str, Any]:
    errors = RowErrors()
    ok = convert_record(layout, record, errors) is not None
    cells = []
    found = record.cells or []
    for (rule, index), convert in zip(layout.rules, layout.converters, strict=True):
        raw = found[index] if index is not None and index < len(found) else None
        cell: dict[str, Any] = {"column": rule.label, "field": rule.field.name, "raw": raw, "value": None}
        cell["error"] = None
        if record.cells is not None:
            try:
                cell["value"] = _shown(convert(raw))
            except ConversionError as error:
                cell["error"] = str(error)
        cells.append(cell)
    return {
        "line": record.line,
        "ok": ok,
        "cells": cells,
        "errors": [{"column": column, "value": value, "message": message} for _, column, value, message in errors.kept],
    }


async def preview_mapper(definition: MapperDefinition, sample: str) -> Preview:
    """How the first MAX_SAMPLE_ROWS rows of `sample` map and convert, and which would be rejected, as an import
    with the same mapper would do it."""
    data = sample.encode("utf-8")
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleTooLarge(
            f"The sample is larger than {MAX_SAMPLE_BYTES} bytes; paste the first lines only", target="sample"
        )
    header_rows = 1 if definition.header else 0
    try:
        records, truncated = await _first_records(definition, data, MAX_SAMPLE_ROWS + header_rows)
    except CsvFormatError as error:
        return Preview(None, [], [], [], False, str(error))
    header: list[str] | None = None
    if definition.header:
        if not records:
            return Preview(None, [], [], [], False, "the sample is empty: there is no header row")
        first, records = records[0], records[1:]
        if first.cells is None:
            return Preview(None, [], [], [], False, f"the header row is not valid CSV: {first.problem}")
        header = first.cells
    try:
        layout = plan_layout(definition, header)
    except JobFailed as failure:
        return Preview(header, [], [], [], False, str(failure))
    used = {index for _, index in layout.rules if index is not None}
    ignored = [name for index, name in enumerate(header or []) if index not in used]
    rows = [_row(layout, record) for record in records]
    return Preview(header, _mapping(layout, header, definition), ignored, rows, truncated, None)
