"""Writers to one SQLite file take turns across processes without SQLite's sleeping retries.

SQLite lets one writer in at a time; a second process that finds the file locked backs off
in sleeps of up to 100 ms, which shows up as tail latency when ``serve --workers 2`` writes
at once. A ``WriterLock`` serialises writers on an advisory ``flock`` of a side file first,
so the kernel hands the turn to the next waiter as soon as the holder is done. Correctness
never depends on it (SQLite's own locking and the event store's unique constraints still
decide); it only removes the sleeps.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterLock:
    """Re-entrant within a thread; exclusive across threads and processes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mutex = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        with self._mutex:
            if self._depth == 0:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._descriptor(), fcntl.LOCK_UN)

    def _descriptor(self) -> int:
        # A forked child must not share the parent's open file (flock is per open file).
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd, self._pid = _open_side_file(self.path), os.getpid()
        return self._fd

    def close(self) -> None:
        with self._mutex:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None


def sqlite_writer_lock(database_file: Path | str | None) -> WriterLock:
    """The writer lock of a SQLite file (``<file>.lock``); a no-op lock for other stores."""
    return WriterLock(_side_file(database_file, ".lock"))


def _side_file(database_file: Path | str | None, suffix: str) -> Path | None:
    """``<file><suffix>`` beside an on-disk database; None for other stores and in-memory ones.

    An in-memory database (``:memory:`` or a ``mode=memory`` URI) lives in one process, so
    there is nobody to take turns with, and no file may be created for it.
    """
    if not database_file:
        return None
    name = str(database_file)
    if name == ":memory:" or "mode=memory" in name:
        return None
    return Path(name + suffix)


class CaseStripes:
    """Commands on one case take turns across processes (a byte-range lock per stripe).

    Without it, two processes writing the same case both load it, decide, and one loses the
    race at commit (a concurrency conflict to retry). Open-file-description locks are used,
    one open file per thread, so threads of one process exclude each other as well; a case
    maps to one of ``STRIPES`` bytes of ``<events file>.cases.lock``.
    """

    STRIPES = 4096

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._local = threading.local()

    @contextmanager
    def hold(self, key: bytes) -> Iterator[None]:
        if self.path is None:
            yield
            return
        fd = self._descriptor()
        stripe = int.from_bytes(key[:4], "big") % self.STRIPES
        record = _lock_record(fcntl.F_WRLCK, stripe)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, record)
        try:
            yield
        finally:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _lock_record(fcntl.F_UNLCK, stripe))

    def _descriptor(self) -> int:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            assert self.path is not None
            local.fd, local.pid = _open_side_file(self.path), os.getpid()
        fd: int = local.fd
        return fd


def _open_side_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _lock_record(kind: int, offset: int) -> bytes:
    """A ``struct flock`` (l_type, l_whence, l_start, l_len, l_pid) for one byte."""
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, offset, 1, 0)


class SharedCounter:
    """A counter that only goes up, in an 8-byte side file mapped into every process.

    Reading it is a memory read (no system call, no database statement). It is raised by
    whoever moves the value it mirrors, before that move is committed, so it is never
    below what it mirrors; it is never lowered. A new side file reads 0.
    """

    _SIZE = 8

    def __init__(self, path: Path) -> None:
        fd = _open_side_file(path)
        try:
            if os.fstat(fd).st_size < self._SIZE:
                os.ftruncate(fd, self._SIZE)  # zeros; another process may race: same result
            self._map = mmap.mmap(fd, self._SIZE, mmap.MAP_SHARED)
        finally:
            os.close(fd)  # the mapping keeps the file

    @property
    def value(self) -> int:
        return int.from_bytes(self._map[: self._SIZE], "little")

    def raise_to(self, value: int) -> None:
        """Set the counter to ``value`` if that is higher (callers serialise: one writer)."""
        if value > self.value:
            self._map[: self._SIZE] = value.to_bytes(self._SIZE, "little")

    def close(self) -> None:
        self._map.close()


def shared_counter(database_file: Path | str | None, suffix: str) -> SharedCounter | None:
    """The counter in ``<file><suffix>`` beside an on-disk database; None otherwise."""
    path = _side_file(database_file, suffix)
    return SharedCounter(path) if path is not None else None


def case_stripes(database_file: Path | str | None) -> CaseStripes:
    return CaseStripes(_side_file(database_file, ".cases.lock"))
