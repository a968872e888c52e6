"""The erasure journal: append-only, hash-chained, folded into what was destroyed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger._erasure_journal import ErasureJournal, JournalError


def _journal(tmp_path: Path) -> ErasureJournal:
    journal = ErasureJournal(tmp_path / "erasure-journal")
    journal.record_keys(["s1", "s2"], ["f1"])
    journal.record_tombstone("*", "case-1", "subject-1")
    journal.record_kek_versions("politie", [1])
    journal.record_kek_versions("ggz", [1, 2], retired=True)
    journal.record_generation(7)
    journal.record_generation(5)  # a lower value never lowers the journal's generation
    return journal


def test_folds_every_entry(tmp_path: Path) -> None:
    state = _journal(tmp_path).read()
    assert state.scope_key_ids == {"s1", "s2"}
    assert list(state.fact_key_ids) == ["f1"]
    assert list(state.tombstones) == [("*", "case-1", "subject-1")]
    assert state.kek_versions == {"politie": {1}, "ggz": {1, 2}}
    assert state.retired == {"ggz"}
    assert state.generation == 7
    assert state.entries == 6


def test_nothing_recorded_for_nothing_destroyed(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasure-journal")
    journal.record_keys([], [])
    journal.record_kek_versions("politie", [])
    assert not journal.path.exists()
    assert journal.read().entries == 0
    assert not journal.read().destroys_anything


def test_two_writers_share_one_chain(tmp_path: Path) -> None:
    first = _journal(tmp_path)
    ErasureJournal(first.path).record_keys(["s3"], [])
    first.record_keys(["s4"], [])
    assert first.read().scope_key_ids == {"s1", "s2", "s3", "s4"}


@pytest.mark.parametrize("edit", ["drop_first", "swap", "change"])
def test_tampering_breaks_the_chain(tmp_path: Path, edit: str) -> None:
    journal = _journal(tmp_path)
    lines = journal.path.read_bytes().splitlines(keepends=True)
    if edit == "drop_first":
        lines = lines[1:]
    elif edit == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        lines[2] = lines[2].replace(b'"politie"', b'"ggzzzzz"')
    journal.path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError, match="chain"):
        journal.read()


def test_a_torn_last_line_is_ignored_then_cut(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    whole = journal.path.read_bytes()
    with journal.path.open("ab") as f:
        f.write(b'0123abcd {"kind":"keys","sco')  # a crash mid-append
    assert journal.read().entries == 6
    journal.record_keys(["s9"], [])
    assert journal.path.read_bytes().startswith(whole)
    state = journal.read()
    assert state.entries == 7
    assert "s9" in state.scope_key_ids


def test_the_file_is_private(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    assert journal.path.stat().st_mode & 0o777 == 0o600


def test_holds_a_prefix_only_while_it_is_there(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    then = journal.read()
    journal.record_keys(["s5"], [])
    now = journal.read()
    assert now.holds(then.entries, then.head)
    assert now.holds(0, "")
    assert not now.holds(then.entries, "0" * 64)  # another journal's head
    assert not ErasureJournal(tmp_path / "lost").read().holds(then.entries, then.head)
