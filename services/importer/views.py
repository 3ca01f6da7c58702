"""The JSON shapes of jobs and mappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def status_url(job_id: object) -> str:
    return f"/api/imports/{job_id}"


def row_error_view(row: asyncpg.Record) -> dict[str, Any]:
    return {"row": row["row_no"], "column": row["column"], "value": row["value"], "message": row["message"]}


def estimated_rows_total(job: asyncpg.Record) -> int | None:
    """The exact rowsTotal once the job has ended; while it runs, the file's lines (counted at upload) scaled by the
    rows per line of the part read so far, which is exact for a file of one record per line."""
    if job["rows_total"] is not None:
        return int(job["rows_total"])
    if job["lines_total"] is None:
        return None
    header = 1 if job["mapper_definition"].get("header", True) else 0
    data_lines = max(job["lines_total"] - header, 0)
    rows_done, lines_read = job["rows_done"], job["lines_done"] - header
    if rows_done <= 0 or lines_read <= 0:
        return data_lines
    return max(rows_done, round(rows_done * data_lines / lines_read))


def job_view(job: asyncpg.Record, errors: list[asyncpg.Record] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(job["id"]),
        "entity": job["entity"],
        "mapperId": job["mapper_id"],
        "status": job["status"],
        "policy": job["policy"],
        "fileName": job["file_name"],
        "sizeBytes": job["size_bytes"],
        "rowsTotal": job["rows_total"],
        "rowsDone": job["rows_done"],
        "rowsTotalEstimate": estimated_rows_total(job),
        "imported": job["imported"],
        "updated": job["updated"],
        "failed": job["failed"],
        "error": job["error"],
        "createdAt": _time(job["created_at"]),
        "startedAt": _time(job["started_at"]),
        "finishedAt": _time(job["finished_at"]),
        "statusUrl": status_url(job["id"]),
    }
    if errors is not None:
        view["errors"] = [row_error_view(row) for row in errors]
        # Only the first thousand row errors are kept; `failed` counts them all.
        view["errorsTruncated"] = job["failed"] > len(errors)
    return view


def mapper_view(mapper: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": mapper["id"],
        "entity": mapper["entity"],
        "name": mapper["name"],
        "definition": mapper["definition"],
        "owner": mapper["owner"],
        "createdAt": _time(mapper["created_at"]),
        "updatedAt": _time(mapper["updated_at"]),
    }
