"""The words of an import's progress (the job page and its script show the same), from the importer's job view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.auth.web.import_progress import import_progress

STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _job(**fields: Any) -> dict[str, Any]:
    return {
        "status": "running",
        "rowsDone": 0,
        "rowsTotal": None,
        "rowsTotalEstimate": None,
        "imported": 0,
        "updated": 0,
        "failed": 0,
        "startedAt": STARTED.isoformat(),
        "finishedAt": None,
        **fields,
    }


def test_a_running_job_shows_rows_done_of_its_estimate_the_rate_and_the_time_left() -> None:
    progress = import_progress(_job(rowsDone=2_000, rowsTotalEstimate=10_000), STARTED + timedelta(seconds=4))
    assert progress.summary == "2,000 of about 10,000 rows"
    assert (progress.percent, progress.rate_text, progress.left_text) == (20, "500 rows/s", "about 16 s left")


def test_the_time_left_is_told_in_minutes_and_hours_when_long() -> None:
    minutes = import_progress(_job(rowsDone=100, rowsTotalEstimate=100_000), STARTED + timedelta(seconds=10))
    assert minutes.left_text == "about 2 h 46 min left"  # 99,900 rows at 10 rows/s
    shorter = import_progress(_job(rowsDone=600, rowsTotalEstimate=9_000), STARTED + timedelta(seconds=60))
    assert shorter.left_text == "about 14 min 00 s left"


def test_a_running_job_never_shows_a_full_bar_before_its_end() -> None:
    progress = import_progress(_job(rowsDone=12, rowsTotalEstimate=10), STARTED + timedelta(seconds=1))
    assert progress.percent == 99


def test_a_completed_job_shows_its_exact_total_and_no_time_left() -> None:
    job = _job(
        status="completed",
        rowsDone=8,
        rowsTotal=8,
        rowsTotalEstimate=8,
        finishedAt=(STARTED + timedelta(seconds=2)).isoformat(),
    )
    progress = import_progress(job, STARTED + timedelta(hours=1))
    assert (progress.summary, progress.percent, progress.rate_text, progress.left_text) == (
        "8 of 8 rows",
        100,
        "4 rows/s",
        "",
    )
    assert progress.to_dict()["ended"] is True


def test_a_queued_job_waits_for_a_worker() -> None:
    progress = import_progress(_job(status="queued", startedAt=None, rowsTotalEstimate=40), STARTED)
    assert (progress.summary, progress.percent, progress.rate, progress.seconds_left) == (
        "Waiting for a worker",
        0,
        None,
        None,
    )
