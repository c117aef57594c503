"""Group commit: concurrent requests share batches, and each gets its own answer or its own error."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dropbridge.api.group_commit import GroupCommit


def test_requests_that_arrive_together_share_a_batch_and_get_their_own_answers():
    batches: list[list[int]] = []
    first_batch_started, release = threading.Event(), threading.Event()

    def write(items):
        batches.append(list(items))
        if len(batches) == 1:  # hold the first batch while the others queue up behind it
            first_batch_started.set()
            release.wait(5)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    group = GroupCommit(write, max_batch=16)

    async def main():
        first = asyncio.ensure_future(group.submit(0))
        await asyncio.to_thread(first_batch_started.wait, 5)
        rest = [asyncio.ensure_future(group.submit(i)) for i in range(1, 40)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == 0
    for i, result in enumerate(results[1:], start=1):
        if i % 2:
            assert isinstance(result, ValueError) and str(result) == f"odd {i}"
        else:
            assert result == i * 10
    assert batches[0] == [0]
    assert [len(b) for b in batches[1:]] == [16, 16, 7]  # the 39 that waited, in batches of at most 16
    assert sorted(i for b in batches for i in b) == list(range(40))


def test_a_writer_that_fails_fails_every_request_of_its_batch_and_keeps_serving():
    calls = []

    def write(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return [i for i in items]

    group = GroupCommit(write)

    async def main():
        with pytest.raises(RuntimeError, match="database gone"):
            await group.submit(1)
        return await group.submit(2)

    assert asyncio.run(main()) == 2
