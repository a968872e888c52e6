"""Fact keys stored in blocks: one wrapped key-store row holds many independent fact keys.

A block is made for one (owner, case) when its fact-key pool runs dry: ``slots`` random
256-bit keys, concatenated and wrapped as one AES-256-GCM value under the case's wrapping key
W, bound to the block id, W's id, owner, case and slot count. Writing a block costs one row
however many facts it will serve, which keeps key storage off the per-fact write path.

A fact key's id is its block id (10 random bytes) followed by its slot number (6 bytes).
Destroying a fact key rewrites its block with zeros in that slot, under a fresh nonce, in the
same key-store transaction that records the destruction; the erasure epoch then re-keys W, so
a copy of the block taken before the erasure cannot be opened with the current keyring.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ledger._errors import SealedError
from ledger._keystore import FactKeyBlockRow
from ledger._sealing import (
    BLOCK_ID_BYTES,
    KEY_BYTES,
    KEY_ID_BYTES,
    new_key_block,
    unwrap_key,
    wrap_key,
)

BLOCK_HEX = 2 * BLOCK_ID_BYTES
_SLOT_BYTES = KEY_ID_BYTES - BLOCK_ID_BYTES
_SLOT_HEX = 2 * _SLOT_BYTES
_ZERO_KEY = bytes(KEY_BYTES)
_KEY_ID = re.compile(f"[0-9a-f]{{{BLOCK_HEX + _SLOT_HEX}}}")


def new_block(
    wrapping_key: bytes, wrap_key_id: str, owner: str, case_id: str, slots: int
) -> tuple[FactKeyBlockRow, bytes]:
    """A fresh block of ``slots`` random keys for (owner, case), wrapped under W: the row to
    store and the keys themselves."""
    block_id, keys = new_key_block(slots)
    block = block_id.hex()
    context = block_context(block, wrap_key_id, owner, case_id, slots)
    return FactKeyBlockRow(
        block, owner, case_id, wrap_key_id, slots, wrap_key(wrapping_key, keys, context)
    ), keys


def block_context(block_id: str, wrap_key_id: str, owner: str, case_id: str, slots: int) -> bytes:
    """Associated data of a wrapped block: it cannot be moved to another block, W or case."""
    return f"factblock:{block_id}:{wrap_key_id}:{owner}:{case_id}:{slots}".encode()


def _context(row: FactKeyBlockRow) -> bytes:
    return block_context(row.block_id, row.wrap_key_id, row.owner, row.case_id, row.slots)


def open_block(wrapping_key: bytes, row: FactKeyBlockRow) -> bytes:
    """The block's keys, concatenated (destroyed ones are zeros); raises SealedError."""
    keys = unwrap_key(wrapping_key, row.wrapped, _context(row))
    if len(keys) != KEY_BYTES * row.slots:
        raise SealedError("malformed fact key block")
    return keys


def wrap_block(wrapping_key: bytes, row: FactKeyBlockRow, keys: bytes) -> bytes:
    """``keys`` wrapped for ``row``'s place (same block id, W id, owner, case, slots)."""
    return wrap_key(wrapping_key, keys, _context(row))


def split_key_id(key_id: str) -> tuple[str, int]:
    """(block id, slot) of a hex fact key id; SealedError for anything else."""
    if _KEY_ID.fullmatch(key_id) is None:
        raise SealedError("invalid fact key id")
    return key_id[:BLOCK_HEX], int(key_id[BLOCK_HEX:], 16)


def key_id(block_id: str, slot: int) -> str:
    """The hex id of the key in ``slot`` of a block."""
    return f"{block_id}{slot:0{_SLOT_HEX}x}"


def _at(keys: bytes, slot: int) -> bytes:
    return keys[KEY_BYTES * slot : KEY_BYTES * (slot + 1)]


def keys_with_ids(block_id: str, keys: bytes) -> list[tuple[str, bytes]]:
    """(hex id, key) for every slot of an opened block, destroyed ones included."""
    return [(key_id(block_id, slot), _at(keys, slot)) for slot in range(len(keys) // KEY_BYTES)]


@dataclass(slots=True)
class UnusedKeys:
    """The keys of a fresh block not yet handed out: slots ``next_slot`` to the end.

    A fact-key pool holds these rather than an object per key: one bytes value per block,
    nothing for the garbage collector to walk, and an id is made only for a key taken.
    ``block_id`` is binary here (the hot path puts ids into envelope headers as bytes).
    """

    block_id: bytes
    keys: bytes
    next_slot: int = 0

    @property
    def left(self) -> int:
        return len(self.keys) // KEY_BYTES - self.next_slot

    def take(self, count: int) -> list[tuple[bytes, bytes]]:
        """Up to ``count`` (binary key id, key) pairs, each handed out once."""
        start = self.next_slot
        self.next_slot = end = min(start + count, len(self.keys) // KEY_BYTES)
        block = self.block_id
        # This runs once per recorded fact: slot numbers come ready-made and the keys are
        # cut out of the block in one call.
        if end <= _READY_SLOTS:
            ids = [block + slot for slot in _slot_bytes()[start:end]]
        else:
            ids = [block + slot.to_bytes(_SLOT_BYTES, "big") for slot in range(start, end)]
        return list(zip(ids, _key_splitter(end - start)(self.keys, KEY_BYTES * start), strict=True))


_READY_SLOTS = 4096  # the largest block a busy case gets (ledger._fact_keys.MAX_FACT_KEY_BLOCK)


@functools.cache
def _slot_bytes() -> tuple[bytes, ...]:
    """Slot numbers 0 .. 4,095 as they appear in key ids (made on first use)."""
    return tuple(slot.to_bytes(_SLOT_BYTES, "big") for slot in range(_READY_SLOTS))


@functools.lru_cache(maxsize=32)
def _key_splitter(count: int) -> Callable[[bytes, int], tuple[bytes, ...]]:
    """Cuts ``count`` consecutive keys out of a block, starting at a byte offset."""
    return struct.Struct(f"{KEY_BYTES}s" * count).unpack_from


def key_in(keys: bytes, slot: int) -> bytes | None:
    """The key in ``slot`` of an opened block; None when it was destroyed.

    A slot beyond the block is not ours: the data pointing at it was tampered with.
    """
    if not 0 <= slot < len(keys) // KEY_BYTES:
        raise SealedError("sealed data refers to an unknown key")
    key = _at(keys, slot)
    return None if key == _ZERO_KEY else key


def live_key_ids(block_id: str, keys: bytes) -> list[str]:
    """Ids of the keys of an opened block that were not destroyed."""
    return [k for k, key in keys_with_ids(block_id, keys) if key != _ZERO_KEY]


def without(keys: bytes, slots: Iterable[int]) -> bytes:
    """An opened block with the keys in ``slots`` overwritten by zeros."""
    cleared = bytearray(keys)
    for slot in slots:
        if not 0 <= slot < len(keys) // KEY_BYTES:
            raise SealedError("sealed data refers to an unknown key")
        cleared[KEY_BYTES * slot : KEY_BYTES * (slot + 1)] = _ZERO_KEY
    return bytes(cleared)
