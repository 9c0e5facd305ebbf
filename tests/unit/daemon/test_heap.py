"""The daemon's heap trimmer: one trim per burst of requests, and it really returns memory."""

from __future__ import annotations

import asyncio
import ctypes

import pytest

from pm.daemon import heap


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 1e6


#: mallopt's parameter number for the top-of-heap trim threshold (glibc's malloc.h).
M_TRIM_THRESHOLD = -1

needs_glibc = pytest.mark.skipif(heap._malloc_trim() is None, reason="no malloc_trim in this libc")


@needs_glibc
def test_a_burst_of_requests_arms_one_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "QUIET", 0.05)

    async def scenario() -> tuple[int, int]:
        trimmer = heap.HeapTrimmer()
        for _ in range(20):  # twenty requests in a row
            trimmer.after_work()
        deadline = asyncio.get_running_loop().time() + 5
        while trimmer.trims == 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(4 * heap.QUIET)  # time enough for a second trim, were one armed
        after_burst = trimmer.trims
        trimmer.after_work()
        trimmer.close()  # a closed trimmer never fires
        await asyncio.sleep(4 * heap.QUIET)
        return after_burst, trimmer.trims

    assert asyncio.run(scenario()) == (1, 1)


@needs_glibc
def test_trim_gives_freed_heap_back_to_the_os() -> None:
    """Memory free()d inside glibc's heap stays resident until trimmed. free() itself trims
    the heap's top beyond M_TRIM_THRESHOLD, which made this test depend on what earlier tests
    left in the heap; the threshold is raised here so only the trimmer can give memory back."""
    libc = ctypes.CDLL(None)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    try:
        burst = [b"x" * 20_000 for _ in range(2000)]  # 40 MB, malloc'd and written
        del burst
        before = _rss_mb()
        heap.HeapTrimmer().trim()
        assert before - _rss_mb() > 20, "the freed 40 MB should mostly leave the process"
    finally:
        libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)  # glibc's default
