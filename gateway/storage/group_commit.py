"""Group commit: concurrent callbacks share one transaction, each answered after its commit.

SQLite has one writer and every commit costs an fsync; committing 50 callbacks
together turns 50 fsyncs into one without weakening the promise that a callback is
answered 200 only once its message is durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from gateway.kernel.tasks import stop_gracefully

Item = TypeVar("Item")
Result = TypeVar("Result")
log = logging.getLogger(__name__)
_STOP = object()  # queued by stop(): what was submitted before it is still committed


class ShuttingDown(RuntimeError):
    """Submitted after stop() began: not committed, the caller should answer "retry later"."""


class GroupCommitter(Generic[Item, Result]):
    def __init__(self, process_batch: Callable[[list[Item]], Awaitable[list[Result]]], max_batch: int = 64,
                 on_batch: Callable[[int], None] | None = None):
        self._process_batch = process_batch
        self._max_batch = max_batch
        self._on_batch = on_batch  # told each batch's size (a metric)
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future]] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        """Commit what was already submitted, then stop (never cancel a commit half-way)."""
        if self._worker:
            await stop_gracefully([self._worker], lambda: self._queue.put_nowait(_STOP))
        while not self._queue.empty():
            entry = self._queue.get_nowait()
            if entry is _STOP:
                continue
            _, future = entry
            if not future.done():
                future.set_exception(ShuttingDown("shutting down"))

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = []
            entry = await self._queue.get()
            while True:
                if entry is _STOP:
                    stopping = True
                else:
                    batch.append(entry)
                if len(batch) >= self._max_batch or self._queue.empty():
                    break
                entry = self._queue.get_nowait()
            if batch:
                if self._on_batch is not None:
                    self._on_batch(len(batch))
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Item, asyncio.Future]]) -> None:
        try:
            results = await self._process_batch([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - isolate the failing item by retrying one by one
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            log.warning("batch of %d failed (%s); retrying one by one", len(batch), type(exc).__name__)
            for entry in batch:
                await self._commit([entry])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
