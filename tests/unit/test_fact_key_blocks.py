"""Blocks of fact keys: ids, slots, overwriting one key, and the wrapped block's binding."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import SealedError
from ledger import _fact_key_blocks as blocks
from ledger._keystore import FactKeyBlockRow
from ledger._sealing import new_key, new_key_block

W = bytes(range(32))


def _block(slots: int = 8) -> tuple[FactKeyBlockRow, bytes]:
    block_id, keys = new_key_block(slots)
    row = FactKeyBlockRow(block_id.hex(), "politie", "case-1", "ab" * 16, slots, b"")
    return dataclasses.replace(row, wrapped=blocks.wrap_block(W, row, keys)), keys


@given(st.binary(min_size=10, max_size=10), st.integers(min_value=0, max_value=(1 << 48) - 1))
def test_key_ids_split_back_into_block_and_slot(block_id: bytes, slot: int) -> None:
    key_id = blocks.key_id(block_id.hex(), slot)
    assert len(key_id) == 32
    assert blocks.split_key_id(key_id) == (block_id.hex(), slot)


@pytest.mark.parametrize(
    "bad",
    ["", "ab" * 15, "ab" * 17, "zz" * 16, "ab" * 10 + "-1" + "0" * 10, "AB" * 16, "ab" * 15 + " a"],
)
def test_a_malformed_key_id_is_refused_opaquely(bad: str) -> None:
    with pytest.raises(SealedError, match="invalid fact key id"):
        blocks.split_key_id(bad)


def test_a_wrapped_block_opens_to_its_keys() -> None:
    row, keys = _block()
    assert blocks.open_block(W, row) == keys
    assert [blocks.key_in(keys, s) for s in range(8)] == [
        keys[32 * s : 32 * s + 32] for s in range(8)
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"block_id": "00" * 10},
        {"wrap_key_id": "cd" * 16},
        {"owner": "ggz"},
        {"case_id": "case-2"},
        {"slots": 7},
    ],
)
def test_a_block_moved_or_resized_fails_to_open(change: dict[str, object]) -> None:
    row, _ = _block()
    with pytest.raises(SealedError):
        blocks.open_block(W, dataclasses.replace(row, **change))  # type: ignore[arg-type]


def test_a_block_under_another_wrapping_key_fails_to_open() -> None:
    row, _ = _block()
    with pytest.raises(SealedError):
        blocks.open_block(new_key(), row)


def test_overwriting_slots_destroys_exactly_those_keys() -> None:
    row, keys = _block()
    cleared = blocks.without(keys, [1, 6])
    assert len(cleared) == len(keys)
    assert blocks.key_in(cleared, 1) is None
    assert blocks.key_in(cleared, 6) is None
    kept = [s for s in range(8) if s not in (1, 6)]
    assert all(blocks.key_in(cleared, s) == keys[32 * s : 32 * s + 32] for s in kept)
    assert blocks.live_key_ids(row.block_id, cleared) == [
        blocks.key_id(row.block_id, s) for s in kept
    ]
    # Rewrapped under a fresh nonce, the old key bytes are nowhere in the stored value.
    rewrapped = blocks.wrap_block(W, row, cleared)
    assert keys[32:64] not in rewrapped
    assert blocks.open_block(W, dataclasses.replace(row, wrapped=rewrapped)) == cleared


@pytest.mark.parametrize("slot", [-1, 8, 1 << 40])
def test_a_slot_outside_the_block_is_tampering(slot: int) -> None:
    _, keys = _block()
    with pytest.raises(SealedError, match="unknown key"):
        blocks.key_in(keys, slot)
    with pytest.raises(SealedError, match="unknown key"):
        blocks.without(keys, [slot])


@given(st.lists(st.integers(min_value=0, max_value=12), max_size=10))
def test_unused_keys_hand_out_every_slot_once_in_any_split(counts: list[int]) -> None:
    block_id, keys = new_key_block(16)
    unused = blocks.UnusedKeys(block_id, keys)
    handed: list[tuple[str, bytes]] = []
    for count in counts:
        before = unused.left
        taken = unused.take(count)
        assert len(taken) == min(count, before)
        assert unused.left == before - len(taken)
        handed.extend((key_id.hex(), key) for key_id, key in taken)
    assert handed == blocks.keys_with_ids(block_id.hex(), keys)[: len(handed)]
    assert len({key_id for key_id, _ in handed}) == len(handed)
    rest = unused.take(16 - len(handed) + 5)
    assert [(key_id.hex(), key) for key_id, key in rest] == blocks.keys_with_ids(
        block_id.hex(), keys
    )[len(handed) :]
    assert unused.left == 0
    assert unused.take(1) == []
