"""The key hierarchy at work: scope keys, fact keys, caches, and sealing with them.

    KEK(owner, version)            keyring (outside the databases)
      wraps D(owner, case, subject)  "derive" scope keys; subject "" = case level; never re-keyed
      wraps W(owner, case)           "wrap" scope key; re-keyed by an erasure epoch
        wraps blocks of FK(fact)     one random fact key per recorded body, many per row

An event is sealed under a data key derived (HKDF) from the owner's case-level key and the
owner's key for every subject the event concerns, so destroying the case's keys or any one
subject's keys makes it unreadable. A fact body is sealed under a key derived from the same
scope keys plus its own fact key, so erasing one fact destroys just its fact key.

Fact keys are created in blocks per (owner, case), one key-store row per block, committed
before first use: the write path pays one row and one commit per block instead of one row
per fact (``ledger._fact_key_blocks``). Caches are dropped whenever the key store's erasure
generation moves (checked by :meth:`KeyManager.sync`); a reader that started before such a
drop does not put what it read back into them.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

from ledger import _fact_key_blocks as blocks
from ledger._background import KeyStoreWorker
from ledger._errors import KeyDestroyedError, ScopeErasedError, SealedError
from ledger._keyring import KeyEncryptionProvider
from ledger._keystore import (
    DERIVE,
    FACT_BLOCK_COLUMNS,
    NO_SUBJECT,
    SCOPE_COLUMNS,
    WRAP,
    KeyStore,
    ScopeKeyRow,
    scope_row,
)
from ledger._lru import trim_lru
from ledger._sealing import (
    KEY_ID_BYTES,
    EnvelopeHeader,
    SealedBody,
    SealingKey,
    body_header_prefix,
    body_key,
    derive_data_key,
    new_key,
    new_key_id,
    open_sealed_at,
    read_header,
    seal_fact_bodies,
)

_CACHE_LIMIT = 200_000
_POOLS = 128  # (owner, case) fact-key pools kept, each the unused part of a block or two
MAX_FACT_KEY_BLOCK = 4096  # keys per block, once a case is busy
_FACT_KEY_CACHE_LIMIT = 16_384  # unwrapped fact keys kept for repeated reads


@dataclass(frozen=True, slots=True)
class ScopeKey:
    """An unwrapped scope key (in memory only)."""

    key_id: bytes
    owner: str
    case_id: str
    subject_id: str
    kind: str
    material: bytes


@dataclass(frozen=True, slots=True)
class PreparedScope:
    """Keys of one (owner, case, subjects) scope, with the event key ready to use."""

    keys: tuple[ScopeKey, ...]
    secret: bytes
    event_key: SealingKey
    bind_suffix: bytes
    body_header: bytes  # a fact body's envelope header, up to its fact key id

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        return tuple(k.key_id for k in self.keys)

    def bind(self, context: bytes) -> bytes:
        return context + self.bind_suffix


def scope_context(row: ScopeKeyRow | ScopeKey, key_id_hex: str) -> bytes:
    return f"scope:{key_id_hex}:{row.owner}:{row.case_id}:{row.subject_id}:{row.kind}".encode()


class KeyManager:
    """Finds, creates and caches keys; seals and opens events and fact bodies."""

    def __init__(
        self,
        store: KeyStore,
        keyring: KeyEncryptionProvider,
        *,
        fact_key_batch: int = 64,
        key_lifetime: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self._batch = fact_key_batch
        # Unwrapped keys are kept at most ``key_lifetime`` seconds: every cache is dropped
        # when that much time has passed since it was last emptied (checked by ``sync``).
        self.key_lifetime = key_lifetime
        self._monotonic = monotonic
        self._emptied_at = monotonic()
        self._lock = threading.RLock()
        # Moves on whenever caches are dropped (erasure, sync). A reader stamps it before it
        # reads keys from the store and caches what it read only if it has not moved: a key
        # read just before an erasure destroyed it must not re-enter a cache just emptied.
        self._evictions = 0
        self._by_id: dict[bytes, ScopeKey] = {}
        self._by_ref: dict[tuple[str, str, str, str], bytes] = {}
        self._prepared: dict[tuple[str, str, tuple[str, ...]], PreparedScope] = {}
        self._by_key_ids: dict[tuple[bytes, ...], PreparedScope] = {}
        # Event envelopes by their exact header bytes: the hot read path skips parsing.
        self._by_header: dict[bytes, PreparedScope] = {}
        # Scope key id -> the prepared-scope cache entries built on it (for targeted eviction).
        self._dependents: dict[bytes, list[tuple[str, Any]]] = {}
        # Unwrapped fact keys of recently opened bodies (an LRU; dropped with the others).
        self._fact_key_cache: OrderedDict[str, bytes] = OrderedDict()
        # Fresh fact keys per (owner, case), most recently used last; at most _POOLS of them
        # (a dropped pool only leaves unused key rows behind, erased with their case).
        self._pools: OrderedDict[tuple[str, str], list[blocks.UnusedKeys]] = OrderedDict()
        self._batch_sizes: dict[tuple[str, str], int] = {}
        # Pools whose next block is being made in the background: (eviction stamp, job).
        self._prefetching: dict[tuple[str, str], tuple[int, futures.Future[None]]] = {}
        self._background = KeyStoreWorker(store.another_connection)
        self._pid = os.getpid()  # fresh fact keys belong to this process (see _after_fork)
        self._generation = store.generation()

    def close(self) -> None:
        self._background.close()
        self.store.close()

    def wait_for_background(self) -> None:
        """Return once fact-key blocks being made in the background are done (benchmarks
        and tests; commands never need to)."""
        self._background.wait()

    @property
    def generation(self) -> int:
        """The erasure generation the caches hold keys of (no store access).

        A command notes it before it seals with cached keys; its commit then stores events
        only while the key store is still at that generation (see ``CaseLedger._save_many``).
        """
        return self._generation

    # -- cache coherence ------------------------------------------------------------------

    def sync(self) -> bool:
        """Drop every cache if an erasure happened anywhere since, or if the caches have
        reached their lifetime; True if they were dropped."""
        generation = self.store.generation()
        with self._lock:
            if generation == self._generation and not self._expired():
                return False
            self.clear_caches()
            self._generation = generation
            return True

    def _expired(self) -> bool:
        lifetime = self.key_lifetime
        return lifetime is not None and self._monotonic() - self._emptied_at >= lifetime

    def forget(
        self,
        generation: int,
        *,
        scope_key_ids: Iterable[str] = (),
        fact_key_ids: Iterable[str] = (),
        owner: str | None = None,
        case_id: str | None = None,
    ) -> None:
        """After this process's own erasure step moved the key store to ``generation``.

        If nothing else changed the store since this process last looked (the generation
        moved by exactly one), only what that step touched is dropped: the named scope keys
        (and every prepared scope built on them), the named fact keys, every key of a
        retired ``owner``, and the fact-key pools of that owner or of an erased ``case_id``
        (their rows are gone). Otherwise every cache is dropped, as in
        :meth:`sync`. Dropping everything costs time in proportion to the caches (a server's
        may hold a hundred thousand keys); this keeps an erasure's cost to what it erased.
        """
        with self._lock:
            if generation != self._generation + 1:
                self.clear_caches()
                self._generation = generation
                return
            self._generation = generation
            self._evictions += 1
            gone = {bytes.fromhex(k) for k in scope_key_ids}
            if owner is not None:
                gone |= {k for k, key in self._by_id.items() if key.owner == owner}
                gone |= {
                    k
                    for scope in self._prepared.values()
                    for k in scope.key_ids
                    if scope.keys[0].owner == owner
                }
            for scope_key_id in gone:
                key = self._by_id.pop(scope_key_id, None)
                if key is not None:
                    self._by_ref.pop((key.owner, key.case_id, key.subject_id, key.kind), None)
                for cache, entry in self._dependents.pop(scope_key_id, ()):
                    getattr(self, cache).pop(entry, None)
            for key_id in fact_key_ids:
                self._fact_key_cache.pop(key_id, None)
            if owner is not None:
                self._fact_key_cache.clear()
            if owner is not None or case_id is not None:
                for ref in [r for r in self._pools if r[0] == owner or r[1] == case_id]:
                    del self._pools[ref]
                    self._batch_sizes.pop(ref, None)

    def _cache_scope(self, seen: int, cache: str, entry: Any, scope: PreparedScope) -> None:
        """``cache[entry] = scope``, remembered as built on each of its keys (for targeted
        eviction); skipped if caches were dropped since the reader's stamp ``seen``."""
        with self._lock:
            if self._evictions != seen:
                return
            getattr(self, cache)[entry] = scope
            for key in scope.keys:
                self._dependents.setdefault(key.key_id, []).append((cache, entry))

    def clear_caches(self) -> None:
        with self._lock:
            self._evictions += 1
            self._emptied_at = self._monotonic()
            self._by_id.clear()
            self._by_ref.clear()
            self._prepared.clear()
            self._by_key_ids.clear()
            self._by_header.clear()
            self._dependents.clear()
            self._fact_key_cache.clear()
            self._pools.clear()
            self._batch_sizes.clear()
            self._prefetching.clear()

    # -- scope keys -----------------------------------------------------------------------

    def scope_key(
        self, owner: str, case_id: str, subject_id: str = NO_SUBJECT, kind: str = DERIVE
    ) -> ScopeKey:
        """The scope key for this (owner, case, subject, kind); created on first use."""
        ref = (owner, case_id, subject_id, kind)
        with self._lock:
            key_id = self._by_ref.get(ref)
            if key_id is not None:
                return self._by_id[key_id]
            seen = self._evictions
        row = self.store.find_scope_key(*ref)
        key = self.unwrap_scope(row) if row is not None else self._create_scope_key(*ref)
        self._remember(key, seen)
        return key

    def scope_keys_by_id(self, key_ids: Sequence[bytes]) -> dict[bytes, ScopeKey]:
        """Scope keys that still exist; destroyed ones are absent.

        Raises SealedError for an id that is neither present nor recorded as destroyed:
        the data pointing at it was tampered with.
        """
        found: dict[bytes, ScopeKey] = {}
        missing: list[str] = []
        with self._lock:
            seen = self._evictions
            for key_id in key_ids:
                key = self._by_id.get(key_id)
                if key is None:
                    missing.append(key_id.hex())
                else:
                    found[key_id] = key
        if not missing:
            return found
        rows = self.store.get_scope_keys(missing)
        for row in rows.values():
            try:
                key = self.unwrap_scope(row)
            except KeyDestroyedError:
                continue  # its key-encryption key was destroyed: gone for good
            self._remember(key, seen)
            found[key.key_id] = key
        self._require_destroyed([k for k in missing if k not in rows])
        return found

    def _require_destroyed(self, absent: Sequence[str]) -> None:
        """Missing keys must have been destroyed; otherwise the data was tampered with.

        A key store restored from before an erasure epoch does not know keys made after it;
        such a store is recognisable (its rows are wrapped under destroyed KEK versions) and
        everything it cannot open simply reads as redacted.
        """
        if not absent or len(self.store.destroyed(absent)) == len(set(absent)):
            return
        if self._is_stale():
            raise KeyDestroyedError("key store predates an erasure epoch")
        raise SealedError("sealed data refers to an unknown key")

    def _is_stale(self) -> bool:
        with self.store.transaction(write=False) as tx:
            versions = tx.execute("SELECT DISTINCT owner, kek_version FROM scope_keys")
        return any(int(v) not in self.keyring.versions(str(owner)) for owner, v in versions)

    def unwrap_scope(self, row: ScopeKeyRow) -> ScopeKey:
        """A stored scope key, unwrapped under its owner's KEK."""
        material = self.keyring.unwrap(
            row.owner, row.kek_version, row.wrapped, scope_context(row, row.key_id)
        )
        return ScopeKey(
            bytes.fromhex(row.key_id), row.owner, row.case_id, row.subject_id, row.kind, material
        )

    def _create_scope_key(self, owner: str, case_id: str, subject_id: str, kind: str) -> ScopeKey:
        with self.store.transaction(write=True) as tx:
            if self.store.is_erased(tx, owner, case_id, subject_id):
                raise ScopeErasedError(f"scope {case_id}/{subject_id or '-'} was erased")
            existing = tx.execute(
                f"SELECT {SCOPE_COLUMNS}"
                " FROM scope_keys WHERE owner = ? AND case_id = ? AND subject_id = ?"
                " AND kind = ?",
                (owner, case_id, subject_id, kind),
            )
            if existing:
                return self.unwrap_scope(scope_row(existing[0]))
            key_id = new_key_id()
            material = new_key()
            key = ScopeKey(key_id, owner, case_id, subject_id, kind, material)
            # The KEK version is read while holding the key store's write lock, so an erasure
            # epoch (which rewraps under that lock) cannot miss this row.
            version, wrapped = self.keyring.wrap(owner, material, scope_context(key, key_id.hex()))
            tx.execute(
                "INSERT INTO scope_keys (key_id, owner, case_id, subject_id, kind, kek_version,"
                " wrapped) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id.hex(), owner, case_id, subject_id, kind, version, wrapped),
            )
        return key

    def _remember(self, key: ScopeKey, seen: int) -> None:
        with self._lock:
            if self._evictions != seen:
                return
            if len(self._by_id) >= _CACHE_LIMIT:
                self.clear_caches()
            self._by_id[key.key_id] = key
            self._by_ref[(key.owner, key.case_id, key.subject_id, key.kind)] = key.key_id

    def event_scope(self, owner: str, case_id: str, subjects: Sequence[str]) -> PreparedScope:
        """The owner's case-level key followed by its keys for each subject (sorted).

        Cached under the subjects as given (the hot path is one dictionary lookup); the
        same set in another order maps to an equal scope.
        """
        ref = (owner, case_id, subjects if type(subjects) is tuple else tuple(subjects))
        prepared = self._prepared.get(ref)
        if prepared is None:
            seen = self._evictions
            keys = [self.scope_key(owner, case_id)]
            keys.extend(self.scope_key(owner, case_id, s) for s in sorted(set(subjects)))
            prepared = self._prepare(keys)
            self._cache_scope(seen, "_prepared", ref, prepared)
        return prepared

    def _prepare(self, keys: Sequence[ScopeKey]) -> PreparedScope:
        secret = derive_data_key([k.material for k in keys], b"caseledger/event")
        key_ids = tuple(k.key_id for k in keys)
        return PreparedScope(
            tuple(keys),
            secret,
            SealingKey(secret, EnvelopeHeader(key_ids)),
            _bind_suffix(keys),
            body_header_prefix(key_ids),
        )

    # -- fact keys ------------------------------------------------------------------------

    def allocate_fact_keys(self, owner: str, case_id: str, count: int) -> list[tuple[bytes, bytes]]:
        """``count`` fresh fact keys (binary id, material), all committed before use.

        Keys come from a per-(owner, case) pool refilled with blocks whose size grows
        fourfold (64, 256, 1,024, 4,096 with the default first batch), so a busy case soon
        costs one key-store row and commit per 4,096 facts and a quiet one leaves few unused
        keys (a block of 4,096 is a 128 kB row). Once a case is that busy, its next block is
        made in the background while half of the current one (or as many as this command
        took) is still left, so commands rarely wait for a key-store commit (see
        :meth:`_prefetch`).
        """
        if self._pid != os.getpid():
            self._after_fork()
        pool_ref = (owner, case_id)
        taken: list[tuple[bytes, bytes]] = []
        waited = False
        while True:
            with self._lock:
                pool = self._pools.setdefault(pool_ref, [])
                self._pools.move_to_end(pool_ref)
                while pool and len(taken) < count:
                    taken.extend(pool[-1].take(count - len(taken)))
                    if not pool[-1].left:
                        pool.pop()
                batch = self._batch_sizes.get(pool_ref, self._batch)
                seen = self._evictions
                left = sum(unused.left for unused in pool)
                pending = self._prefetching.get(pool_ref)
            if len(taken) == count or pending is None or waited:
                break
            # The next block is on its way: wait for it rather than make another one.
            waited = True
            futures.wait([pending[1]])
        if len(taken) < count:
            needed = count - len(taken)
            fresh = self._create_fact_keys(owner, case_id, max(batch, needed))
            taken.extend(fresh.take(needed))
            with self._lock:
                if self._evictions != seen:
                    return taken  # an erasure dropped the pools meanwhile: keep none
                if fresh.left:
                    self._pools.setdefault(pool_ref, []).append(fresh)
                left = fresh.left
                batch = self._batch_sizes[pool_ref] = min(batch * 4, MAX_FACT_KEY_BLOCK)
                for dropped, _ in trim_lru(self._pools, _POOLS):
                    self._batch_sizes.pop(dropped, None)
        if batch == MAX_FACT_KEY_BLOCK and left < max(batch // 2, count):
            self._prefetch(owner, case_id, batch, seen)
        return taken

    def _after_fork(self) -> None:
        """In a forked child: drop the fact keys inherited from the parent, which the
        parent hands out too (two facts must never share a key: erasing one would erase
        the other)."""
        with self._lock:
            if self._pid != os.getpid():
                self._pools.clear()
                self._batch_sizes.clear()
                self._prefetching.clear()
                self._pid = os.getpid()

    def _prefetch(self, owner: str, case_id: str, count: int, seen: int) -> None:
        """Make the (owner, case) pool's next block of ``count`` keys in the background.

        The block is stored exactly as a command would store it (same transaction, same
        checks against erasure and re-keying), on the background worker's own connection.
        It joins the pool only if no cache was dropped since ``seen`` (an erasure in
        between may have destroyed what it was made under); otherwise, or if making it
        failed, it is left unused and the next command makes its own block, reporting any
        error itself.
        """
        pool_ref = (owner, case_id)
        with self._lock:
            if pool_ref in self._prefetching or self._evictions != seen:
                return
        wrapper = self.scope_key(owner, case_id, NO_SUBJECT, WRAP)  # cached: just used

        def make(store: KeyStore) -> None:
            try:
                made = self._store_fact_key_block(owner, case_id, count, wrapper, store)
            except Exception:  # the command path makes its own block and reports the error
                return
            with self._lock:
                if made is None or self._evictions != seen:
                    return
                # Used after the pool's current block.
                self._pools.setdefault(pool_ref, []).insert(0, made)
                for dropped, _ in trim_lru(self._pools, _POOLS):
                    self._batch_sizes.pop(dropped, None)

        def done(_: futures.Future[None]) -> None:
            # However the job ended (the worker may even have failed to connect).
            with self._lock:
                entry = self._prefetching.get(pool_ref)
                if entry is not None and entry[0] == seen:
                    del self._prefetching[pool_ref]

        with self._lock:
            if pool_ref in self._prefetching or self._evictions != seen:
                return
            job = self._background.submit(make)
            self._prefetching[pool_ref] = (seen, job)
            job.add_done_callback(done)  # (runs here, under this re-entrant lock, if done)

    def _create_fact_keys(self, owner: str, case_id: str, count: int) -> blocks.UnusedKeys:
        """A new block of ``count`` fact keys, stored as one row before any is used.

        The case's wrapping key may have been re-keyed by another process's erasure epoch
        since it was cached here: then the caches are refreshed and the block is made once
        more under the current wrapping key.
        """
        wrapper = self.scope_key(owner, case_id, NO_SUBJECT, WRAP)
        made = self._store_fact_key_block(owner, case_id, count, wrapper, self.store)
        if made is None:
            self.sync()
            wrapper = self.scope_key(owner, case_id, NO_SUBJECT, WRAP)
            made = self._store_fact_key_block(owner, case_id, count, wrapper, self.store)
        if made is None:
            raise ScopeErasedError(f"scope {case_id} was erased")
        return made

    @staticmethod
    def _store_fact_key_block(
        owner: str, case_id: str, count: int, wrapper: ScopeKey, store: KeyStore
    ) -> blocks.UnusedKeys | None:
        """The new block, or None if ``wrapper`` is no longer the case's wrapping key.

        Block inserts hold the key store's write lock shared (on PostgreSQL): they may run
        beside each other and beside event inserts, never beside an erasure, which holds
        it alone; so a block is either in the store before an erasure epoch starts (and is
        rewrapped or destroyed by it) or is checked against what the epoch left.
        """
        row, keys = blocks.new_block(wrapper.material, wrapper.key_id.hex(), owner, case_id, count)
        with store.transaction(write=True, shared=True) as tx:
            if store.is_erased(tx, owner, case_id, NO_SUBJECT):
                raise ScopeErasedError(f"scope {case_id} was erased")
            current = tx.execute("SELECT 1 FROM scope_keys WHERE key_id = ?", (row.wrap_key_id,))
            if not current:
                return None
            tx.execute(
                f"INSERT INTO fact_key_blocks ({FACT_BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (row.block_id, row.owner, row.case_id, row.wrap_key_id, row.slots, row.wrapped),
            )
        return blocks.UnusedKeys(bytes.fromhex(row.block_id), keys)

    def fact_keys(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Fact keys that still exist, unwrapped; erased ones are absent."""
        try:
            return self._fact_keys(key_ids)
        except SealedError:
            # A wrapping key may have been re-keyed by another process since we cached it.
            self.clear_caches()
            return self._fact_keys(key_ids)

    def _fact_keys(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        wanted: list[str] = []
        with self._lock:
            seen = self._evictions
            cache = self._fact_key_cache
            for key_id in key_ids:
                material = cache.get(key_id)
                if material is None:
                    wanted.append(key_id)
                else:
                    cache.move_to_end(key_id)
                    found[key_id] = material
        if not wanted:
            return found
        slots = [blocks.split_key_id(k) for k in wanted]
        rows = self.store.get_fact_key_blocks(sorted({block for block, _ in slots}))
        wrappers = self.scope_keys_by_id(
            list({bytes.fromhex(r.wrap_key_id) for r in rows.values()})
        )
        opened: dict[str, bytes | None] = {}
        fresh: dict[str, bytes] = {}
        absent: list[str] = []
        for key_id, (block_id, slot) in zip(wanted, slots, strict=True):
            row = rows.get(block_id)
            if row is None:
                absent.append(key_id)
                continue
            if block_id not in opened:
                wrapper = wrappers.get(bytes.fromhex(row.wrap_key_id))
                opened[block_id] = (
                    None if wrapper is None else blocks.open_block(wrapper.material, row)
                )
            keys = opened[block_id]
            key = None if keys is None else blocks.key_in(keys, slot)
            if key is None:
                absent.append(key_id)
            else:
                fresh[key_id] = key
        self._require_destroyed(absent)
        with self._lock:
            if self._evictions == seen:
                self._fact_key_cache.update(fresh)
                trim_lru(self._fact_key_cache, _FACT_KEY_CACHE_LIMIT)
        found.update(fresh)
        return found

    # -- sealing with the hierarchy -------------------------------------------------------

    def seal_event(
        self,
        scope: tuple[str, str, tuple[str, ...]],
        plaintext: bytes,
        context: bytes,
        *trailer: bytes,
    ) -> bytes:
        """The event sealed in ``scope`` (owner, case id, subject ids: an event's
        ``SealingScope``), followed by ``trailer`` (not sealed here) in one copy."""
        return self.seal_events(scope, ((plaintext, context, trailer),))[0]

    def seal_events(
        self,
        scope: tuple[str, str, tuple[str, ...]],
        items: Sequence[tuple[bytes, bytes, tuple[bytes, ...]]],
    ) -> list[bytes]:
        """Several events sealed in one ``scope``, as :meth:`seal_event` seals each
        (plaintext, context, trailer) item, in one loop (``SealingKey.seal_many``)."""
        prepared = self._prepared.get(scope)  # the key :meth:`event_scope` caches under
        if prepared is None:
            prepared = self.event_scope(*scope)
        return prepared.event_key.seal_many(items, prepared.bind_suffix)

    def open_event(self, blob: bytes, context: bytes) -> bytes:
        """Open a sealed event; KeyDestroyedError when any of its keys was destroyed."""
        if len(blob) > 3:
            # A header seen before (same bytes, so same format, flags and key ids).
            known = self._by_header.get(blob[: 3 + KEY_ID_BYTES * blob[2]])
            if known is not None:
                return known.event_key.open(blob, known.bind(context))
        seen = self._evictions
        header, _ = read_header(blob)
        if header.fact_key_id is not None:
            raise SealedError("not an event envelope")
        ids = header.scope_key_ids
        scope = self._by_key_ids.get(ids)
        if scope is None:
            found = self.scope_keys_by_id(ids)
            if len(found) != len(ids):
                raise KeyDestroyedError("a key of this event was destroyed")
            scope = self._prepared_for(ids, found, seen)
            assert scope is not None  # every key was found
        plaintext = scope.event_key.open(blob, scope.bind(context))
        self._cache_scope(seen, "_by_header", scope.event_key.header_bytes, scope)
        return plaintext

    def seal_body(
        self,
        owner: str,
        case_id: str,
        subjects: Sequence[str],
        plaintext: bytes,
        context: bytes,
    ) -> SealedBody:
        return self.seal_bodies(owner, case_id, [(subjects, plaintext, context)])[0]

    def seal_bodies(
        self, owner: str, case_id: str, items: Sequence[tuple[Sequence[str], bytes, bytes]]
    ) -> list[SealedBody]:
        """Seal several (subjects, plaintext, context) bodies; fact keys fetched in one go.

        Consecutive bodies about the same subjects (usually a whole batch) are sealed in one
        call under their scope.
        """
        fact_keys = self.allocate_fact_keys(owner, case_id, len(items))
        sealed: list[SealedBody] = []
        for start, end in runs([subjects for subjects, _, _ in items]):
            scope = self.event_scope(owner, case_id, items[start][0])
            sealed.extend(
                seal_fact_bodies(
                    scope.secret,
                    scope.body_header,
                    scope.bind_suffix,
                    fact_keys[start:end],
                    items[start:end],
                )
            )
        return sealed

    def open_bodies(self, items: Sequence[tuple[bytes, bytes]]) -> list[bytes | None]:
        """Open (blob, context) pairs in one batch; None where a key was destroyed."""
        seen = self._evictions
        headers = [read_header(blob) for blob, _ in items]
        fact_keys = self.fact_keys(
            [h.fact_key_id.hex() for h, _ in headers if h.fact_key_id is not None]
        )
        scope = self.scope_keys_by_id(list({k for h, _ in headers for k in h.scope_key_ids}))
        opened: list[bytes | None] = []
        for (blob, context), (header, offset) in zip(items, headers, strict=True):
            if header.fact_key_id is None:
                raise SealedError("sealed body has no fact key")
            fact_key = fact_keys.get(header.fact_key_id.hex())
            prepared = self._prepared_for(header.scope_key_ids, scope, seen)
            if fact_key is None or prepared is None:
                opened.append(None)
                continue
            opened.append(
                open_sealed_at(
                    body_key(prepared.secret, fact_key), blob, offset, prepared.bind(context)
                )
            )
        return opened

    def _prepared_for(
        self, key_ids: tuple[bytes, ...], found: dict[bytes, ScopeKey], seen: int
    ) -> PreparedScope | None:
        """The prepared scope of these key ids (cached unless caches were dropped since
        ``seen``); None if any of them is gone."""
        prepared = self._by_key_ids.get(key_ids)
        if prepared is not None:
            return prepared
        keys = [found.get(k) for k in key_ids]
        if any(k is None for k in keys):
            return None
        prepared = self._prepare([k for k in keys if k is not None])
        self._cache_scope(seen, "_by_key_ids", key_ids, prepared)
        return prepared


def _bind_suffix(keys: Sequence[ScopeKey]) -> bytes:
    """Associated data suffix: the owner and case the keys belong to."""
    owner, case_id = keys[0].owner, keys[0].case_id
    if any(k.owner != owner or k.case_id != case_id for k in keys):
        raise SealedError("scope keys of mixed owners or cases")
    return f"|owner={owner}|case={case_id}".encode()


def runs(values: Sequence[object]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of equal consecutive values: [a, a, b, a] gives (0, 2),
    (2, 3), (3, 4). What is sealed in one scope is sealed in runs (a batch is one run)."""
    start, count = 0, len(values)
    while start < count:
        value, end = values[start], start + 1
        while end < count and values[end] == value:
            end += 1
        yield start, end
        start = end
