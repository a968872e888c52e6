"""SQLite: a commit's erasure-generation check reads a mirror in shared memory.

Every move of the generation raises the mirror before its key-store transaction commits,
and nothing lowers it, so a mirror at the generation the command's keys belong to proves the
key store is still there; anything else makes the commit ask the key store itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import StoreConfig
from ledger import _erasure as erasure
from ledger._keystore import KeyStore
from ledger._stores import KEYSTORE_FILE
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    add_subject,
    bodies,
    open_active_case,
    opened,
    record,
)


def _mirror_file(config: StoreConfig) -> Path:
    return config.data_dir / f"{KEYSTORE_FILE}.generation"


def _mirrored(config: StoreConfig) -> int:
    return int.from_bytes(_mirror_file(config).read_bytes(), "little")


def _store_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every read of the erasure generation from the key store itself."""
    reads: list[int] = []
    generation = KeyStore.generation

    def counted(self: KeyStore) -> int:
        reads.append(1)
        return generation(self)

    monkeypatch.setattr(KeyStore, "generation", counted)
    return reads


def test_a_commit_in_step_asks_the_key_store_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = StoreConfig(data_dir=tmp_path / "data")
    with opened(config) as ledger:
        case_id = open_active_case(ledger)
        record(ledger, POLITIE, case_id, {"n": 0})
        reads = _store_reads(monkeypatch)
        for n in range(1, 4):
            record(ledger, POLITIE, case_id, {"n": n})
        assert reads == []
        assert sorted(b["n"] for b in bodies(ledger, case_id).values()) == [0, 1, 2, 3]


def test_every_erasure_raises_the_mirror_with_the_store(tmp_path: Path) -> None:
    config = StoreConfig(data_dir=tmp_path / "data")
    with opened(config) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        fact = record(ledger, POLITIE, case_id, {"n": 1}, subjects=[subject])
        before = ledger.keys.store.generation()
        assert _mirrored(config) == before

        ledger.erase_fact(PRIVACY_OFFICER, case_id, fact, ground="invented request")

        after = ledger.keys.store.generation()
        assert after > before
        assert _mirrored(config) == after


def _bump_then_fail(store: KeyStore) -> None:
    with store.transaction(write=True) as tx:
        store.bump_generation(tx)
        raise RuntimeError("the erasure step failed")


def test_a_mirror_ahead_of_the_store_makes_commits_ask_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = StoreConfig(data_dir=tmp_path / "data")
    with opened(config) as ledger:
        case_id = open_active_case(ledger)
        record(ledger, POLITIE, case_id, {"n": 1})
        store = ledger.keys.store
        generation = store.generation()
        # An erasure step that raised the mirror and then failed before committing.
        with pytest.raises(RuntimeError):
            _bump_then_fail(store)
        assert store.generation() == generation
        assert _mirrored(config) == generation + 1

        reads = _store_reads(monkeypatch)
        record(ledger, POLITIE, case_id, {"n": 2})  # stored: the store is the truth
        assert reads == [1]
        assert _mirrored(config) == generation + 1  # never lowered
        assert sorted(b["n"] for b in bodies(ledger, case_id).values()) == [1, 2]


def test_a_data_dir_without_a_mirror_gets_one_at_the_stored_generation(
    tmp_path: Path,
) -> None:
    config = StoreConfig(data_dir=tmp_path / "data")
    with opened(config) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        record(ledger, POLITIE, case_id, {"n": 1}, subjects=[subject])
        erasure.destroy_subject(ledger.keys, case_id, add_subject(ledger, case_id))
        generation = ledger.keys.store.generation()
    assert generation > 0
    _mirror_file(config).unlink()  # as made before the mirror existed

    with opened(config) as ledger:
        assert _mirrored(config) == 0
        record(ledger, POLITIE, case_id, {"n": 2}, subjects=[subject])
        assert _mirrored(config) == generation
        assert sorted(b["n"] for b in bodies(ledger, case_id).values()) == [1, 2]
