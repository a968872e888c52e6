"""Sealing invariants under Hypothesis: round trips, and nothing opens out of its place.

The envelope functions are exercised directly, and the key hierarchy through a real
``KeyManager`` on an in-memory key store with an in-memory KEK provider (a fake, not a mock).
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger import KeyDestroyedError, SealedError, body_context
from ledger._keys import KeyManager
from ledger._keystore import KeyStore
from ledger._sealing import (
    KEY_ID_BYTES,
    EnvelopeHeader,
    SealingKey,
    new_key,
    open_sealed,
    read_header,
    seal,
    unwrap_key,
    wrap_key,
)
from ledger._sql import SQLiteDatabase

# -- strategies (kept here: tests/strategies.py belongs to the policy tests) ------------------

keys = st.binary(min_size=32, max_size=32)
key_ids = st.binary(min_size=KEY_ID_BYTES, max_size=KEY_ID_BYTES)
headers = st.builds(
    EnvelopeHeader,
    st.lists(key_ids, min_size=1, max_size=5).map(tuple),
    st.none() | key_ids,
)
plaintexts = st.binary(max_size=512)
contexts = st.binary(max_size=128)
partners = st.sampled_from(["politie", "reclassering", "gemeente", "ggz", "zvh", "woonbedrijf"])
ids = st.uuids().map(lambda u: u.hex)
json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)

STORE_SETTINGS = settings(max_examples=60, deadline=None)


class MemoryKeyring:
    """An in-memory KeyEncryptionProvider: versioned KEKs per partner."""

    def __init__(self) -> None:
        self._keks: dict[str, dict[int, bytes]] = {}
        self._active: dict[str, int] = {}
        self._retired: set[str] = set()

    def wrap(self, partner: str, key: bytes, context: bytes) -> tuple[int, bytes]:
        version = self.active_version(partner)
        kek = self._keks[partner][version]
        return version, wrap_key(kek, key, f"{partner}:{version}:".encode() + context)

    def unwrap(self, partner: str, version: int, wrapped: bytes, context: bytes) -> bytes:
        kek = self._keks.get(partner, {}).get(version)
        if kek is None:
            raise KeyDestroyedError("destroyed")
        return unwrap_key(kek, wrapped, f"{partner}:{version}:".encode() + context)

    def active_version(self, partner: str) -> int:
        if partner not in self._active:
            self._active[partner] = 1
            self._keks[partner] = {1: new_key()}
        return self._active[partner]

    def rotate(self, partner: str) -> int:
        version = max(self._keks.get(partner, {0: b""})) + 1
        self._keks.setdefault(partner, {})[version] = new_key()
        self._active[partner] = version
        return version

    def destroy_versions_except(self, partner: str, keep: int) -> list[int]:
        gone = sorted(v for v in self._keks.get(partner, {}) if v != keep)
        for version in gone:
            del self._keks[partner][version]
        return gone

    def retire(self, partner: str) -> list[int]:
        self._retired.add(partner)
        return sorted(self._keks.pop(partner, {}))

    def is_retired(self, partner: str) -> bool:
        return partner in self._retired

    def versions(self, partner: str) -> list[int]:
        return sorted(self._keks.get(partner, {}))


@functools.cache
def _manager() -> KeyManager:
    """One key manager for the whole module: in memory, no files."""
    store = KeyStore(SQLiteDatabase(Path(":memory:"), secure_delete=True))
    return KeyManager(store, MemoryKeyring(), fact_key_batch=4)


_counter = itertools.count()


def _seal_body(
    owner: str, case_id: str, subjects: list[str], body: bytes, fact_id: str, version: int
) -> tuple[bytes, bytes]:
    context = body_context(case_id, fact_id, version)
    return _manager().seal_body(owner, case_id, subjects, body, context).blob, context


def _open(blob: bytes, context: bytes) -> Any:
    """The opened body, None when a key is missing, or the SealedError raised."""
    try:
        return _manager().open_bodies([(blob, context)])[0]
    except SealedError as error:
        return error


def _flip(blob: bytes, bit: int) -> bytes:
    mutable = bytearray(blob)
    mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


class TestEnvelopeProperties:
    """Any value sealed opens with its key and context, and with nothing else."""

    @given(keys, headers, plaintexts, contexts)
    def test_round_trip(self, key: bytes, header: EnvelopeHeader, pt: bytes, ctx: bytes) -> None:
        blob = seal(key, header, pt, ctx)
        assert open_sealed(key, blob, ctx) == pt
        assert read_header(blob) == (header, len(header.encode()))
        assert SealingKey(key, header).open(blob, ctx) == pt

    @given(keys, headers, plaintexts, contexts, contexts)
    def test_other_associated_data_fails(
        self, key: bytes, header: EnvelopeHeader, pt: bytes, ctx: bytes, other: bytes
    ) -> None:
        assume(ctx != other)
        blob = seal(key, header, pt, ctx)
        try:
            open_sealed(key, blob, other)
        except SealedError:
            return
        raise AssertionError("opened under other associated data")

    @given(keys, keys, headers, plaintexts, contexts)
    def test_other_key_fails(
        self, key: bytes, other: bytes, header: EnvelopeHeader, pt: bytes, ctx: bytes
    ) -> None:
        assume(key != other)
        blob = seal(key, header, pt, ctx)
        try:
            open_sealed(other, blob, ctx)
        except SealedError:
            return
        raise AssertionError("opened under another key")

    @given(keys, headers, plaintexts, contexts, st.data())
    def test_any_flipped_bit_fails(
        self, key: bytes, header: EnvelopeHeader, pt: bytes, ctx: bytes, data: st.DataObject
    ) -> None:
        blob = seal(key, header, pt, ctx)
        bit = data.draw(st.integers(0, len(blob) * 8 - 1))
        try:
            open_sealed(key, _flip(blob, bit), ctx)
        except SealedError:
            return
        raise AssertionError(f"opened with bit {bit} flipped")

    @given(keys, headers, plaintexts, contexts)
    def test_sealing_twice_differs(
        self, key: bytes, header: EnvelopeHeader, pt: bytes, ctx: bytes
    ) -> None:
        assert seal(key, header, pt, ctx) != seal(key, header, pt, ctx)


class TestKeyHierarchyProperties:
    """Bodies sealed under an owner's scope keys open only in their own case, fact and owner."""

    @STORE_SETTINGS
    @given(partners, ids, st.lists(ids, max_size=3, unique=True), json_bodies, ids)
    def test_round_trip(
        self, owner: str, case_id: str, subjects: list[str], body: Any, fact_id: str
    ) -> None:
        raw = repr(body).encode()
        blob, context = _seal_body(owner, case_id, subjects, raw, fact_id, 7)
        assert _open(blob, context) == raw
        assert raw not in blob or len(raw) < 8  # never stored in the clear

    @STORE_SETTINGS
    @given(partners, partners, ids, st.lists(ids, max_size=2, unique=True), plaintexts, ids)
    def test_another_owner_fails(
        self, owner: str, other: str, case_id: str, subjects: list[str], pt: bytes, fact_id: str
    ) -> None:
        assume(owner != other)
        blob, context = _seal_body(owner, case_id, subjects, pt, fact_id, 3)
        # Re-label the body with the other owner's key ids for the same case and subjects.
        theirs, _ = _seal_body(other, case_id, subjects, b"theirs", fact_id, 3)
        header, offset = read_header(blob)
        their_header, _ = read_header(theirs)
        forged = EnvelopeHeader(their_header.scope_key_ids, header.fact_key_id).encode()
        assert isinstance(_open(forged + blob[offset:], context), SealedError)
        forged_fact = EnvelopeHeader(their_header.scope_key_ids, their_header.fact_key_id)
        assert isinstance(_open(forged_fact.encode() + blob[offset:], context), SealedError)

    @STORE_SETTINGS
    @given(
        partners,
        ids,
        st.lists(ids, max_size=2, unique=True),
        plaintexts,
        ids,
        st.integers(1, 10_000),
        st.sampled_from(["case", "fact", "version"]),
        ids,
    )
    def test_other_associated_data_fails(
        self,
        owner: str,
        case_id: str,
        subjects: list[str],
        pt: bytes,
        fact_id: str,
        version: int,
        change: str,
        other_id: str,
    ) -> None:
        blob, _ = _seal_body(owner, case_id, subjects, pt, fact_id, version)
        moved = {
            "case": body_context(other_id, fact_id, version),
            "fact": body_context(case_id, other_id, version),
            "version": body_context(case_id, fact_id, version + 1),
        }[change]
        assume(moved != body_context(case_id, fact_id, version))
        assert isinstance(_open(blob, moved), SealedError)

    @STORE_SETTINGS
    @given(partners, ids, ids, plaintexts, st.data())
    def test_flipped_bit_never_opens(
        self, owner: str, case_id: str, subject: str, pt: bytes, data: st.DataObject
    ) -> None:
        blob, context = _seal_body(owner, case_id, [subject], pt, f"f{next(_counter)}", 1)
        bit = data.draw(st.integers(0, len(blob) * 8 - 1))
        result = _open(_flip(blob, bit), context)
        header_bits = (3 + 3 * KEY_ID_BYTES) * 8
        if bit >= header_bits:
            assert isinstance(result, SealedError)  # nonce, ciphertext, tag: loud
        else:
            assert isinstance(result, SealedError) or result is None  # never the plaintext
