"""Stopping background tasks without cutting a database transaction in half.

Cancelling a task while it awaits the database driver can leave the driver's connection
waiting forever when the engine is disposed (seen with aiosqlite): tasks are asked to
stop, given time to finish the pass in progress, and only then cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

STOP_GRACE_SECONDS = 15.0


async def stop_gracefully(tasks: Iterable[asyncio.Task], request_stop: Callable[[], None],
                          grace: float = STOP_GRACE_SECONDS) -> None:
    pending = [task for task in tasks if not task.done()]
    request_stop()
    if not pending:
        return
    _done, late = await asyncio.wait(pending, timeout=grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
