"""The shared counter: an 8-byte side file mapped into every process, only ever raised."""

from __future__ import annotations

import os
from pathlib import Path

from ledger._interprocess import SharedCounter, shared_counter


def test_a_new_counter_reads_zero_and_only_goes_up(tmp_path: Path) -> None:
    counter = SharedCounter(tmp_path / "x.generation")
    assert counter.value == 0
    counter.raise_to(7)
    counter.raise_to(3)  # never lowered
    assert counter.value == 7
    counter.close()
    assert (tmp_path / "x.generation").stat().st_size == 8


def test_every_mapping_of_the_file_sees_a_raise(tmp_path: Path) -> None:
    path = tmp_path / "x.generation"
    first, second = SharedCounter(path), SharedCounter(path)
    first.raise_to(2**40 + 5)
    assert second.value == 2**40 + 5
    second.raise_to(2**40 + 6)
    assert first.value == 2**40 + 6
    first.close()
    second.close()
    assert SharedCounter(path).value == 2**40 + 6  # kept in the file


def test_a_forked_child_and_its_parent_share_the_counter(tmp_path: Path) -> None:
    counter = SharedCounter(tmp_path / "x.generation")
    counter.raise_to(1)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        ok = counter.value == 1
        counter.raise_to(9)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert counter.value == 9


def test_only_on_disk_databases_get_one(tmp_path: Path) -> None:
    assert shared_counter(None, ".generation") is None
    assert shared_counter(":memory:", ".generation") is None
    made = shared_counter(tmp_path / "keys.sqlite3", ".generation")
    assert made is not None
    assert (tmp_path / "keys.sqlite3.generation").exists()
    made.close()
