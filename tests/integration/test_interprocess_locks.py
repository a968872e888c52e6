"""Writer locks and case stripes exclude other processes and other threads, and re-enter."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from ledger._interprocess import CaseStripes, WriterLock, case_stripes, sqlite_writer_lock

Hold = Callable[[], AbstractContextManager[None]]


@contextmanager
def held_by_child(hold: Hold) -> Iterator[Callable[[], None]]:
    """A forked child takes the lock and keeps it until the returned ``release`` is called."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: hold, say so, wait for the word, let go
        try:
            with hold():
                os.write(ready_w, b"1")
                os.read(go_r, 1)
        finally:
            os._exit(0)
    os.read(ready_r, 1)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            os.write(go_w, b"1")
            released = True

    try:
        yield release
    finally:
        release()
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)


def blocked_until_released(hold: Hold, release: Callable[[], None]) -> list[str]:
    events: list[str] = []

    def take() -> None:
        with hold():
            events.append("acquired")

    taker = threading.Thread(target=take)
    taker.start()
    taker.join(timeout=0.3)
    events.append("still waiting" if taker.is_alive() else "not blocked")
    release()
    taker.join(timeout=10)
    return events


class TestWriterLock:
    def test_another_process_waits_for_the_holder(self, tmp_path: Path) -> None:
        lock = sqlite_writer_lock(tmp_path / "events.sqlite3")
        with held_by_child(lock.hold) as release:
            events = blocked_until_released(lock.hold, release)
        assert events == ["still waiting", "acquired"]

    def test_reentrant_in_one_thread_exclusive_across_threads(self, tmp_path: Path) -> None:
        lock = WriterLock(tmp_path / "x.lock")
        order: list[str] = []

        def take() -> None:
            with lock.hold():
                order.append("other thread")

        with lock.hold(), lock.hold():
            other = threading.Thread(target=take)
            other.start()
            other.join(timeout=0.3)
            order.append("outer still held")
        other.join(timeout=10)
        assert order == ["outer still held", "other thread"]

    def test_without_a_file_it_does_nothing(self) -> None:
        lock = sqlite_writer_lock(None)
        with lock.hold(), lock.hold():
            pass
        assert lock.path is None

    @pytest.mark.parametrize("name", [":memory:", "file:cases?mode=memory&cache=shared"])
    def test_in_memory_databases_get_no_side_files(
        self, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        lock, stripes = sqlite_writer_lock(name), case_stripes(name)
        with lock.hold(), stripes.hold(bytes(16)):
            pass
        assert (lock.path, stripes.path) == (None, None)
        assert list(tmp_path.iterdir()) == []


class TestCaseStripes:
    def test_same_case_waits_across_processes(self, tmp_path: Path) -> None:
        stripes = case_stripes(tmp_path / "events.sqlite3")
        key = bytes(range(16))
        with held_by_child(lambda: stripes.hold(key)) as release:
            events = blocked_until_released(lambda: stripes.hold(key), release)
        assert events == ["still waiting", "acquired"]

    def test_other_stripes_are_free(self, tmp_path: Path) -> None:
        stripes = CaseStripes(tmp_path / "cases.lock")
        with held_by_child(lambda: stripes.hold(b"\x00\x00\x00\x05")) as release:
            events = blocked_until_released(lambda: stripes.hold(b"\x00\x00\x00\x06"), release)
        assert events == ["acquired", "not blocked"]  # taken at once, while the child holds 5

    def test_threads_of_one_process_take_turns(self, tmp_path: Path) -> None:
        threads = 4
        stripes = CaseStripes(tmp_path / "cases.lock")
        inside: list[int] = []
        overlaps: list[int] = []

        def work(n: int) -> None:
            for _ in range(50):
                with stripes.hold(b"same"):
                    inside.append(n)
                    if len(inside) > 1:
                        overlaps.append(n)
                    inside.remove(n)

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert overlaps == []
