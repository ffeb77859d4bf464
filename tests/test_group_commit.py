"""GroupCommitter: callbacks waiting together share one batch; each gets its own result or error."""

from __future__ import annotations

import asyncio

import pytest

from gateway.storage.group_commit import GroupCommitter


class Recorder:
    """A batch processor that remembers each batch and fails any batch holding a poisoned item."""

    def __init__(self, poisoned: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.poisoned = poisoned

    async def __call__(self, batch: list[int]) -> list[int]:
        self.batches.append(list(batch))
        if self.poisoned & set(batch):
            raise ValueError("poisoned")
        return [item * 10 for item in batch]


async def submit_all(committer: GroupCommitter, items: range) -> list:
    """Every item queued before the committer's worker first runs, then the worker started."""
    waiting = [asyncio.create_task(committer.submit(item)) for item in items]
    await asyncio.sleep(0)  # each task has put its item in the queue
    committer.start()
    return await asyncio.gather(*waiting, return_exceptions=True)


async def test_items_waiting_together_share_one_batch_and_each_gets_its_own_result() -> None:
    process, sizes = Recorder(), []
    committer = GroupCommitter(process, on_batch=sizes.append)
    assert await submit_all(committer, range(10)) == [item * 10 for item in range(10)]
    await committer.stop()
    assert process.batches == [list(range(10))] and sizes == [10]


async def test_a_batch_is_cut_at_its_maximum() -> None:
    process, sizes = Recorder(), []
    committer = GroupCommitter(process, max_batch=4, on_batch=sizes.append)
    await submit_all(committer, range(10))
    await committer.stop()
    assert sizes == [4, 4, 2] and [item for batch in process.batches for item in batch] == list(range(10))


async def test_a_failing_batch_is_retried_one_by_one_so_only_the_bad_item_fails() -> None:
    process = Recorder(poisoned=frozenset({3}))
    committer = GroupCommitter(process)
    results = await submit_all(committer, range(6))
    await committer.stop()
    assert isinstance(results[3], ValueError)
    assert [r for n, r in enumerate(results) if n != 3] == [0, 10, 20, 40, 50]
    assert process.batches[0] == list(range(6)) and process.batches[1:] == [[n] for n in range(6)]


async def test_stop_commits_what_was_submitted_before_it() -> None:
    process = Recorder()
    committer = GroupCommitter(process)
    committer.start()
    waiting = [asyncio.create_task(committer.submit(item)) for item in range(3)]
    await asyncio.sleep(0)
    await committer.stop()
    assert await asyncio.gather(*waiting) == [0, 10, 20]


@pytest.mark.parametrize("size", [1, 64])
async def test_sizes_reach_the_metric(size: int) -> None:
    from gateway.metrics import Metrics

    metrics = Metrics()
    committer = GroupCommitter(Recorder(), on_batch=metrics.group_commit_size.labels("sms").observe)
    await submit_all(committer, range(size))
    await committer.stop()
    assert metrics.registry.get_sample_value("ewg_group_commit_size_count", {"queue": "sms"}) == 1
    assert metrics.registry.get_sample_value("ewg_group_commit_size_sum", {"queue": "sms"}) == size
