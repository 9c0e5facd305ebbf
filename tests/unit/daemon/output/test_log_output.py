"""Pure and in-process parts of logging: date tokens, cron, the pipe reader, tail and follow."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pm.client.logreader import Follower, tail_lines
from pm.config import cron, logrotate, settings
from pm.config.dateformat import format_date
from pm.daemon.output import line_transforms, logpipe, logtargets, reader_threads, rotation
from pm.daemon.output.line_transforms import identity
from pm.daemon.output.logtargets import Target
from pm.errors import ConfigError
from pm.paths import Home

WHEN = time.mktime((2026, 3, 7, 9, 5, 4, 0, 0, -1)) + 0.123


def test_dayjs_tokens() -> None:
    assert format_date("YYYY-MM-DDTHH:mm:ss", WHEN) == "2026-03-07T09:05:04"
    assert format_date("YY M D H m s SSS", WHEN) == "26 3 7 9 5 4 123"
    assert format_date("hh:mm A [at] MMM dddd", WHEN) == "09:05 AM at Mar Saturday"
    assert format_date("YYYY-MM-DD_HH-mm-ss", WHEN) == "2026-03-07_09-05-04"


def test_rotate_interval_is_due_when_a_matching_minute_falls_in_the_window() -> None:
    midnight = time.mktime((2026, 3, 8, 0, 0, 0, 0, 0, -1))
    assert cron.due("0 0 * * *", midnight - 30, midnight + 5)  # midnight is in (since, now]
    assert cron.due("0 0 * * *", midnight - 30, midnight)  # now itself counts
    assert not cron.due("0 0 * * *", midnight, midnight + 3600)  # since itself does not
    assert not cron.due("0 0 * * *", midnight + 5, midnight + 3600)  # no midnight in between
    monday_945 = time.mktime((2026, 3, 9, 9, 45, 0, 0, 0, -1))
    assert cron.due("*/15 9-17 * * 1-5", monday_945 - 60, monday_945)
    assert not cron.due("*/15 9-17 * * 1-5", monday_945 - 14 * 60, monday_945 - 60)
    assert not cron.due("*/15 9-17 * * 6", monday_945 - 60, monday_945)  # Saturdays only
    assert not cron.due("0 0 31 2 *", midnight, midnight + 400 * 86400)  # never matches


def test_rotate_interval_is_validated_as_five_cron_fields() -> None:
    config = logrotate.parse({"rotateInterval": "*/15 9-17 * * 1-5"})
    assert config.rotate_interval == "*/15 9-17 * * 1-5"
    assert logrotate.parse({"rotateInterval": "none"}).rotate_interval is None
    for bad in (
        "0 0 * *",
        "61 * * * *",
        "a * * * *",
        "0 0 0 * *",
        "*/0 * * * *",
        "0 0 * * * *",
        "@daily",
    ):
        with pytest.raises(ConfigError, match="logrotate:rotateInterval"):
            logrotate.parse({"rotateInterval": bad})
        with pytest.raises(ConfigError, match="logrotate:rotateInterval"):
            logrotate.validate_setting("rotateInterval", bad)


def test_rotation_settings_validate_and_default(tmp_path: Path) -> None:
    home = Home(tmp_path)
    config = logrotate.parse(rotation.load_section(home))
    assert (config.max_size, config.retain, config.compress) == (10 * 1024 * 1024, 30, False)
    assert (config.worker_interval, config.rotate_interval) == (30, "0 0 * * *")
    settings.set_value(home, "pm2-logrotate:max_size", "1K")
    settings.set_value(home, "logrotate:retain", "all")
    assert logrotate.parse(rotation.load_section(home)).max_size == 1024
    assert logrotate.parse(rotation.load_section(home)).retain is None
    assert settings.get_value(home, "logrotate:max_size") == "1K"
    assert (home.config.stat().st_mode & 0o777) == 0o600
    with pytest.raises(ConfigError, match="retain"):
        settings.set_value(home, "logrotate:retain", "0")
    with pytest.raises(ConfigError, match="unknown setting"):
        settings.set_value(home, "logrotate:maxsize", "1K")


@pytest.fixture(params=["thread", "event-loop"])
def raw_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a raw-stream test on both ways of reading: a thread of its own (while threads are
    left) and the event loop (beyond THREADS_FROM_START, handed to a thread only if flooding)."""
    if request.param == "event-loop":
        monkeypatch.setattr(reader_threads, "THREADS_FROM_START", 0)
    return str(request.param)


def _run_reader(
    chunks: list[bytes], targets: list[Target], whole_lines: bool | None = None
) -> None:
    """Write chunks into a real pipe from a thread-free writer and read them with StreamReader."""

    async def main() -> None:
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        done = asyncio.get_running_loop().create_future()
        reader = logpipe.StreamReader(
            read_end, targets, on_close=lambda: done.set_result(None), whole_lines=whole_lines
        )
        reader.start()
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                try:
                    view = view[os.write(write_end, view) :]
                except BlockingIOError:
                    await asyncio.sleep(0.001)
            await asyncio.sleep(0)
        os.close(write_end)
        await asyncio.wait_for(done, 30)

    asyncio.run(main())


@pytest.mark.parametrize("whole_lines", [False, True], ids=["raw", "whole-lines"])
def test_reader_keeps_huge_lines_whole_and_in_order(
    tmp_path: Path, whole_lines: bool, raw_path: str
) -> None:
    path = str(tmp_path / "out.log")
    Path(path).write_bytes(b"before\n")  # a file from an earlier run: appended to
    big = b"x" * (1 << 20)
    lines = [b"a" * 100, big, b"b" * 70_000, b"", b"tail"]
    payload = b"\n".join(lines[:-1]) + b"\n" + lines[-1]  # last line has no newline
    # written in awkward pieces so lines straddle reads
    chunks = [payload[i : i + 4097] for i in range(0, len(payload), 4097)]
    _run_reader(chunks, [Target(path, identity)], whole_lines)
    # Raw mode writes the bytes as they came; whole-lines mode ends the last line for it.
    expected = b"before\n" + payload + (b"\n" if whole_lines else b"")
    assert Path(path).read_bytes() == expected
    assert path not in logtargets.FILES


def test_reader_date_prefix_and_json(tmp_path: Path) -> None:
    dated, as_json = str(tmp_path / "d.log"), str(tmp_path / "j.log")
    _run_reader(
        [b"one\ntw", b"o\nthree\n"],
        [
            Target(dated, line_transforms.date_prefix("[T]")),
            Target(as_json, line_transforms.json_lines("err", 3, "api", None)),
        ],
    )
    assert Path(dated).read_text() == "T: one\nT: two\nT: three\n"
    records = [json.loads(line) for line in Path(as_json).read_text().splitlines()]
    assert [r["message"] for r in records] == ["one\n", "two\n", "three\n"]
    assert {(r["type"], r["process_id"], r["app_name"]) for r in records} == {("err", 3, "api")}


def test_rotation_by_rename_loses_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "app-out.log")
    config = logrotate.parse({"compress": "true", "retain": "2"})

    async def main() -> None:
        read_end, write_end = os.pipe()
        done = asyncio.get_running_loop().create_future()
        reader = logpipe.StreamReader(
            read_end, [Target(path, identity)], on_close=lambda: done.set_result(None)
        )
        reader.start()
        for index in range(20_000):
            os.write(write_end, b"line %d\n" % index)
            if index % 5_000 == 4_999:
                await asyncio.sleep(0.02)
                await rotation.rotate(path, config)
        os.close(write_end)
        await asyncio.wait_for(done, 30)

    asyncio.run(main())
    rotated = sorted(
        tmp_path.glob("app-out__*.log.gz"), key=lambda p: (p.stat().st_mtime, p.name)
    )  # oldest first, as pruning
    assert len(rotated) == 2  # retain
    kept = b"".join(gzip.decompress(p.read_bytes()) for p in rotated) + Path(path).read_bytes()
    numbers = [int(line.split()[1]) for line in kept.splitlines()]
    assert numbers == list(range(numbers[0], 20_000))  # contiguous, in order, up to the end


def test_tail_and_follow_across_truncate_and_rename(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"".join(b"l%d\n" % i for i in range(100)))
    assert tail_lines(str(path), 3) == [b"l97", b"l98", b"l99"]
    follower = Follower(str(path))
    with open(path, "ab") as handle:
        handle.write(b"new1\nnew")
    assert follower.poll() == [b"new1"]
    with open(path, "ab") as handle:
        handle.write(b"2\n")
    assert follower.poll() == [b"new2"]
    os.truncate(path, 0)
    with open(path, "ab") as handle:
        handle.write(b"after flush\n")
    assert follower.poll() == [b"after flush"]
    with open(path, "ab") as handle:
        handle.write(b"last of old\n")
    path.rename(tmp_path / "x__old.log")
    path.write_bytes(b"first of new\n")
    assert follower.poll() == [b"last of old", b"first of new"]
    follower.close()


def test_direct_file_rotation_by_collapse_loses_nothing(tmp_path: Path) -> None:
    """A separate writer process appends while the file is rotated again and again."""
    import subprocess
    import sys

    path = tmp_path / "app-out.log"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os,sys\nfd=os.open(sys.argv[1], os.O_WRONLY|os.O_APPEND|os.O_CREAT)\n"
            "for i in range(200000): os.write(fd, b'n %09d\\n' % i)\n",
            str(path),
        ]
    )
    config = logrotate.parse({"retain": "all"})
    try:
        while writer.poll() is None:
            if path.exists() and path.stat().st_size > 20_000:
                asyncio.run(rotation.rotate(str(path), config))
    finally:
        writer.wait()
    rotated = sorted(tmp_path.glob("app-out__*.log"), key=lambda p: p.stat().st_mtime_ns)
    assert rotated, "no rotation happened"
    data = b"".join(p.read_bytes() for p in rotated) + path.read_bytes()
    assert data == b"".join(b"n %09d\n" % i for i in range(200000))


def test_follower_finds_its_place_after_a_collapse(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    path.write_bytes(b"".join(b"line %05d\n" % i for i in range(2000)))  # 22,000 bytes
    follower = Follower(str(path))
    with open(path, "ab") as handle:
        handle.write(b"new 1\n")
    assert follower.poll() == [b"new 1"]
    assert rotation.collapse_rotate(str(path), tmp_path / "c__1.log")
    with open(path, "ab") as handle:
        handle.write(b"new 2\n")
    assert follower.poll() == [b"new 2"]  # not the whole remaining file again
    os.truncate(path, 0)
    with open(path, "ab") as handle:
        handle.write(b"after flush\n")
    assert follower.poll() == [b"after flush"]
    follower.close()


def _open_raw_reader(
    path: Path,
    owner: str = "",
) -> tuple[logpipe.StreamReader, int, asyncio.Future[None]]:
    """A raw reader of a fresh pipe into path, inside the running loop: (reader, the pipe's
    write end, a future done once the reader has closed)."""
    read_end, write_end = os.pipe()
    done = asyncio.get_running_loop().create_future()
    reader = logpipe.StreamReader(
        read_end, [Target(str(path), identity)], on_close=lambda: done.set_result(None), owner=owner
    )
    return reader, write_end, done


def test_raw_reader_follows_a_file_truncated_under_it(tmp_path: Path, raw_path: str) -> None:
    """Raw writes go to the file's current end: after `> file` no hole of NULs."""
    path = tmp_path / "out.log"

    async def main() -> None:
        reader, write_end, done = _open_raw_reader(path)
        assert not reader.whole_lines
        reader.start()
        os.write(write_end, b"x" * 50_000 + b"\n")
        while path.stat().st_size < 50_001:
            await asyncio.sleep(0.005)
        os.truncate(path, 0)  # as `pm flush` or a shell's `> file` does
        os.write(write_end, b"after\n")
        os.close(write_end)
        await asyncio.wait_for(done, 30)

    asyncio.run(main())
    assert path.read_bytes() == b"after\n"


FLOOD_WRITER = """
import os, sys
for n in range(int(sys.argv[1])):
    os.write(1, b"%08d %s\\n" % (n, b"z" * 90))
"""


def test_raw_stream_waits_on_a_thread_never_on_the_event_loop(tmp_path: Path) -> None:
    """While threads are left, a raw stream is never registered with the loop's epoll (which
    would make every later write of the app wake the pipe's queue), and its thread ends with
    the writer, handing its count back."""
    path = tmp_path / "out.log"
    before = _os_threads()

    async def main() -> None:
        reader, write_end, done = _open_raw_reader(path)
        reader.start()
        with pytest.raises(KeyError):  # not in the selector: nobody polls this pipe
            asyncio.get_running_loop()._selector.get_key(reader.fd)  # type: ignore[attr-defined]
        assert reader_threads._THREADS == [1]
        assert _os_threads() == before + 1
        os.write(write_end, b"hello\n")
        os.close(write_end)
        await asyncio.wait_for(done, 30)

    asyncio.run(main())
    assert path.read_bytes() == b"hello\n"
    assert reader_threads._THREADS == [0]
    _wait_threads_back_to(before)


def _os_threads() -> int:
    """This process's threads as the kernel counts them (reader threads are bare threads,
    which the threading module does not list)."""
    return len(os.listdir("/proc/self/task"))


def _wait_threads_back_to(count: int) -> None:
    """A reader thread hands its close to the loop as its last act, then ends."""
    deadline = time.monotonic() + 5
    while _os_threads() > count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _os_threads() == count, "a reader thread outlived its pipe"


def test_a_small_batch_leaves_the_pipe_as_it_enters_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet app's lines are spliced, so no instant exists where they are in the file and
    still in the pipe. The death is simulated right after the file write (a SIGKILL cannot be
    aimed at that instant): the first consume raises, the reader stops there."""
    import fcntl
    import termios

    path = tmp_path / "out.log"
    line = b"one quiet line\n"

    def dies_here(fd: int, size: int) -> None:
        raise OSError("simulated daemon death after the file write")

    monkeypatch.setattr(reader_threads, "consume", dies_here)

    async def main() -> int:
        reader, write_end, done = _open_raw_reader(path)
        watcher = os.dup(reader.fd)  # our own look at the pipe, after the reader is gone
        reader.start()
        os.write(write_end, line)
        await asyncio.wait_for(done, 30)
        left = bytearray(4)
        fcntl.ioctl(watcher, termios.FIONREAD, left)
        os.close(watcher)
        os.close(write_end)
        return int.from_bytes(left, "little")

    still_in_pipe = asyncio.run(main())
    assert path.read_bytes() == line
    assert still_in_pipe == 0, "written and still in the pipe: a next daemon writes it twice"


def test_drained_waits_for_every_reader_within_its_bound(tmp_path: Path) -> None:
    async def main() -> tuple[bool, bool]:
        reader, write_end, done = _open_raw_reader(tmp_path / "out.log", owner="app-1")
        reader.start()
        held_open = await logpipe.drained(0.05)  # its writer is still there
        os.write(write_end, b"last words\n")
        os.close(write_end)
        finished = await logpipe.drained(10)
        await asyncio.wait_for(done, 1)
        return held_open, finished

    assert asyncio.run(main()) == (False, True)
    assert (tmp_path / "out.log").read_bytes() == b"last words\n"


def test_whole_lines_and_surplus_streams_wait_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_threads, "THREADS_FROM_START", 1)

    async def main() -> None:
        selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
        pipes = [os.pipe() for _ in range(3)]
        readers = [
            logpipe.StreamReader(pipes[0][0], [Target(str(tmp_path / "a"), identity)]),
            logpipe.StreamReader(pipes[1][0], [Target(str(tmp_path / "b"), identity)]),
            logpipe.StreamReader(
                pipes[2][0], [Target(str(tmp_path / "c"), identity)], whole_lines=True
            ),
        ]
        for reader in readers:
            reader.start()
        registered = []
        for read_end, _ in pipes:
            try:
                selector.get_key(read_end)
                registered.append(True)
            except KeyError:
                registered.append(False)
        assert registered == [False, True, True]  # a thread, then no thread left, whole lines
        for reader in readers[1:]:
            reader.close()
        os.close(pipes[0][1])
        deadline = time.monotonic() + 10
        while not readers[0].closed and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # EOF: the thread hands its close to the loop
        assert readers[0].closed, "the thread never reached the end of its pipe"
        for _, write_end in pipes[1:]:
            os.close(write_end)

    asyncio.run(main())
    assert reader_threads._THREADS == [0]


def test_flooding_stream_drained_by_a_thread_survives_rotation(
    tmp_path: Path, raw_path: str
) -> None:
    """A flooding raw stream is drained by a thread (its own from the start, or one it is
    handed when found flooding on the event loop); rotations (rename + reopen from the event
    loop) while it writes lose nothing, and the thread ends with the writer."""
    import subprocess
    import sys

    from pm.daemon.output import pipes

    path = tmp_path / "app-out.log"
    lines = 300_000  # ~30 MB: still flowing after the five rotations below (1 MB apart)
    before = _os_threads()

    async def until(
        condition: Callable[[], object], done: asyncio.Future[None], message: str
    ) -> None:
        """A deadline poll on the event loop (which must keep running for the reader); the
        reader closing first (the flood is over) fails it too."""
        deadline = time.monotonic() + 30
        while not condition():
            assert not done.done(), f"the flood ended before {message}"
            assert time.monotonic() < deadline, f"timed out waiting for {message}"
            await asyncio.sleep(0.001)

    def holds(size: int) -> bool:
        return path.exists() and path.stat().st_size >= size

    async def main() -> None:
        read_end, child_end = pipes.open_pair()
        done = asyncio.get_running_loop().create_future()
        reader = logpipe.StreamReader(
            read_end, [Target(str(path), identity)], on_close=lambda: done.set_result(None)
        )
        reader.start()
        writer = subprocess.Popen(
            [sys.executable, "-c", FLOOD_WRITER, str(lines)], stdout=child_end
        )
        os.close(child_end)
        try:
            await until(lambda: reader._threaded, done, "the stream got its own thread")
            assert _os_threads() > before
            for index in range(5):  # each rotation in the middle of the flood
                await until(lambda: holds(1 << 20), done, f"1 MB before rotation {index}")
                os.rename(path, tmp_path / f"app-out.{index}.log")
                logtargets.FILES[str(path)].reopen()
            await asyncio.wait_for(done, 60)
            assert writer.wait(10) == 0
        finally:  # its pipe end is read-write: with no reader left it would wait forever
            if writer.poll() is None:
                writer.kill()
                writer.wait(10)

    asyncio.run(main())
    assert reader_threads._THREADS == [0]
    _wait_threads_back_to(before)
    parts = sorted(tmp_path.glob("app-out.*.log"), key=lambda p: int(p.name.split(".")[1]))
    assert len(parts) == 5 and path.stat().st_size > 0  # output came after the last rotation
    data = b"".join(p.read_bytes() for p in [*parts, path])
    numbers = [int(line[:8]) for line in data.splitlines()]
    assert numbers == list(range(lines))  # at-least-once may repeat only on a daemon crash
