"""Group commit: a shared transaction is checked against its oldest key generation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger._commit import GroupCommitter, _Submission
from ledger._errors import KeysChangedError


class _Recorder:
    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.saves: list[tuple[list[Any], int | None]] = []
        self.fail_with = fail_with

    def __call__(self, objs: Sequence[Any], key_generation: int | None) -> None:
        self.saves.append((list(objs), key_generation))
        if self.fail_with is not None:
            raise self.fail_with


def test_a_lone_save_carries_its_own_generation() -> None:
    saved = _Recorder()
    GroupCommitter(saved).save(["event"], key_generation=7)
    assert saved.saves == [(["event"], 7)]


def test_a_shared_transaction_is_saved_with_the_oldest_generation() -> None:
    saved = _Recorder()
    batch = [_Submission(["a"], 9), _Submission(["b"], 4), _Submission(["c"], None)]
    GroupCommitter(saved)._commit(batch)
    assert saved.saves == [(["a", "b", "c"], 4)]
    assert all(s.done.is_set() and s.error is None for s in batch)


def test_a_refused_shared_transaction_fails_every_submission() -> None:
    refused = KeysChangedError("moved on")
    saved = _Recorder(fail_with=refused)
    batch = [_Submission(["a"], 9), _Submission(["b"], 4)]
    GroupCommitter(saved)._commit(batch)
    assert len(saved.saves) == 1  # not retried one by one: each caller runs its command again
    assert [s.error for s in batch] == [refused, refused]


def test_without_generations_none_is_passed() -> None:
    saved = _Recorder()
    GroupCommitter(saved)._commit([_Submission(["a"], None), _Submission(["b"], None)])
    assert saved.saves == [(["a", "b"], None)]
