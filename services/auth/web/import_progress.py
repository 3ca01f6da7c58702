"""What an import job's page shows of its progress, from the importer's job view: rows done of the (estimated)
total, the rate so far and the time left. The page and its script show the same words, made here."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ENDED = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class ImportProgress:
    status: str
    rows_done: int
    rows_total: int | None
    exact_total: bool
    rate: float | None  # rows per second since the job started
    seconds_left: int | None
    imported: int
    updated: int
    failed: int

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def percent(self) -> int | None:
        if self.status == "completed":
            return 100
        if not self.rows_total:
            return None
        # Never 100 before the end: the total may still be an estimate.
        return min(99, math.floor(self.rows_done * 100 / self.rows_total))

    @property
    def summary(self) -> str:
        if self.status == "queued":
            return "Waiting for a worker"
        if self.rows_total is None:
            return f"{self.rows_done:,} rows"
        about = "" if self.exact_total else "about "
        return f"{self.rows_done:,} of {about}{self.rows_total:,} rows"

    @property
    def rate_text(self) -> str:
        return "" if self.rate is None else f"{self.rate:,.0f} rows/s"

    @property
    def left_text(self) -> str:
        if self.ended or self.seconds_left is None:
            return ""
        if self.seconds_left < 60:
            return f"about {max(self.seconds_left, 1)} s left"
        minutes, seconds = divmod(self.seconds_left, 60)
        if minutes < 60:
            return f"about {minutes} min {seconds:02d} s left"
        hours, minutes = divmod(minutes, 60)
        return f"about {hours} h {minutes:02d} min left"

    def to_dict(self) -> dict[str, Any]:
        """What the page's script reads to update the page without reloading it."""
        return {
            "status": self.status,
            "ended": self.ended,
            "rowsDone": self.rows_done,
            "rowsTotal": self.rows_total,
            "percent": self.percent,
            "summary": self.summary,
            "rate": self.rate_text,
            "left": self.left_text,
            "imported": self.imported,
            "updated": self.updated,
            "failed": self.failed,
        }


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def import_progress(job: Mapping[str, Any], now: datetime) -> ImportProgress:
    status = str(job["status"])
    rows_done = int(job.get("rowsDone") or 0)
    exact = job.get("rowsTotal") is not None
    total = job.get("rowsTotal") if exact else job.get("rowsTotalEstimate")
    started, finished = _moment(job.get("startedAt")), _moment(job.get("finishedAt"))
    rate = None
    if started is not None and rows_done > 0:
        elapsed = ((finished or now) - started).total_seconds()
        rate = rows_done / elapsed if elapsed > 0 else None
    left = None
    if status == "running" and rate and total is not None:
        left = math.ceil(max(int(total) - rows_done, 0) / rate)
    return ImportProgress(
        status=status,
        rows_done=rows_done,
        rows_total=None if total is None else int(total),
        exact_total=exact,
        rate=rate,
        seconds_left=left,
        imported=int(job.get("imported") or 0),
        updated=int(job.get("updated") or 0),
        failed=int(job.get("failed") or 0),
    )
