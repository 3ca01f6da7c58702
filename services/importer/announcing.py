"""The end of an import job on the bus: ImportJobFinished for the importer's own waiters and the platform events for
webhook subscribers, written to the event outbox (shared/outbox.py) in the transaction that records the job's
outcome. So they exist exactly when the outcome committed, and a worker killed right after the commit loses none:
any replica's outbox publisher sends them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg

from services.importer import db
from services.importer.views import status_url
from shared import outbox
from shared.messages import ImportJobFinished
from shared.platform_events import (
    ImportCompleted,
    ImportFailed,
    PlatformEvent,
    ProductsCreated,
    ProductsUpdated,
    now_iso,
    product_events,
)

if TYPE_CHECKING:
    from services.importer.importing import JobOutcome


async def announce(conn: asyncpg.Connection, outcome: JobOutcome) -> None:
    """Write the job's end and its platform events in the caller's transaction (the one recording the outcome)."""
    finished = ImportJobFinished(
        job_id=str(outcome.job_id),
        status=outcome.status,
        imported=outcome.imported,
        updated=outcome.updated,
        failed=outcome.failed,
    )
    await outbox.write(conn, db.EVENT_OUTBOX, finished)
    for event in platform_events(outcome):
        await outbox.write(conn, db.EVENT_OUTBOX, event)


def platform_events(outcome: JobOutcome) -> list[PlatformEvent]:
    """The job's events for webhook subscribers: its end, and the product ids it created and updated, in slices. Their
    ids are fixed by the job, so a message published again (at least once) repeats the same events."""
    job_id = str(outcome.job_id)
    occurred_at = now_iso()
    common: dict[str, Any] = {
        "occurred_at": occurred_at,
        "job_id": job_id,
        "entity": outcome.entity,
        "imported": outcome.imported,
        "updated": outcome.updated,
        "failed": outcome.failed,
        "status_url": status_url(job_id),
        "requested_by": outcome.requested_by,
    }
    events: list[PlatformEvent] = []
    if outcome.status == "completed":
        events += product_events(ProductsCreated, list(outcome.created_ids), job_id=job_id, occurred_at=occurred_at)
        events += product_events(ProductsUpdated, list(outcome.updated_ids), job_id=job_id, occurred_at=occurred_at)
        events.append(ImportCompleted(event_id=f"import.completed:{job_id}", **common))
    elif outcome.status == "failed":
        events.append(ImportFailed(event_id=f"import.failed:{job_id}", error=outcome.error, **common))
    return events


async def announce_cancelled(conn: asyncpg.Connection, job: asyncpg.Record) -> None:
    """Write the end of a job cancelled by its user, in the transaction of the cancellation (no platform event)."""
    finished = ImportJobFinished(
        job_id=str(job["id"]),
        status=job["status"],
        imported=job["imported"],
        updated=job["updated"],
        failed=job["failed"],
    )
    await outbox.write(conn, db.EVENT_OUTBOX, finished)
