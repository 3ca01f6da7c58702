from __future__ import annotations

import time

from shared.db import close_pool, create_pool


async def test_a_pool_with_a_connection_never_released_still_closes_within_its_bound(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    await pool.acquire()  # and never released, as by a task cancelled at the wrong moment
    started = time.monotonic()
    await close_pool(pool, timeout=0.5)
    assert time.monotonic() - started < 3
    assert pool.is_closing()
