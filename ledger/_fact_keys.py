"""Fact keys: the pools fresh ones are taken from (write path), the cache opened ones go to.

Fact keys are created in blocks per (owner, case), one key-store row per block, committed
before first use: the write path pays one row and one commit per block instead of one row
per fact (``ledger._fact_key_blocks``). A busy case's next block is made in the background
before its pool runs dry. Fresh keys belong to the process that made them: a forked child
drops what it inherited (two facts must never share a key).

Both caches here register with the manager's :class:`KeyCacheCoherence` and are emptied with
every other key cache.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent import futures

from ledger import _fact_key_blocks as blocks
from ledger._background import KeyStoreWorker
from ledger._errors import ScopeErasedError, SealedError
from ledger._key_coherence import KeyCacheCoherence
from ledger._keystore import FACT_BLOCK_COLUMNS, NO_SUBJECT, WRAP, KeyStore
from ledger._lru import trim_lru
from ledger._scope_keys import ScopeKey, ScopeKeyCache

_POOLS = 128  # (owner, case) fact-key pools kept, each the unused part of a block or two
MAX_FACT_KEY_BLOCK = 4096  # keys per block, once a case is busy
_FACT_KEY_CACHE_LIMIT = 16_384  # unwrapped fact keys kept for repeated reads


class FactKeyPool:
    """Fresh fact keys per (owner, case), taken in blocks made ahead of need."""

    def __init__(
        self,
        store: KeyStore,
        scopes: ScopeKeyCache,
        coherence: KeyCacheCoherence,
        *,
        first_block: int = 64,
    ) -> None:
        self.store = store
        self._scopes = scopes
        self._coherence = coherence
        self._batch = first_block
        # Fresh fact keys per (owner, case), most recently used last; at most _POOLS of them
        # (a dropped pool only leaves unused key rows behind, erased with their case).
        self._pools: OrderedDict[tuple[str, str], list[blocks.UnusedKeys]] = OrderedDict()
        self._batch_sizes: dict[tuple[str, str], int] = {}
        # Pools whose next block is being made in the background: (eviction stamp, job).
        self._prefetching: dict[tuple[str, str], tuple[int, futures.Future[None]]] = {}
        self._background = KeyStoreWorker(store.another_connection)
        self._pid = os.getpid()  # fresh fact keys belong to this process (see _after_fork)
        coherence.register(self._clear)

    def close(self) -> None:
        self._background.close()

    def wait_for_background(self) -> None:
        """Return once fact-key blocks being made in the background are done."""
        self._background.wait()

    def _clear(self) -> None:
        self._pools.clear()
        self._batch_sizes.clear()
        self._prefetching.clear()

    def forget(self, owner: str | None, case_id: str | None) -> None:
        """Drop the pools of a retired ``owner`` or of an erased ``case_id`` (their rows are
        gone; the caller holds the lock and moved the stamp on)."""
        if owner is not None or case_id is not None:
            for ref in [r for r in self._pools if r[0] == owner or r[1] == case_id]:
                del self._pools[ref]
                self._batch_sizes.pop(ref, None)

    def allocate(self, owner: str, case_id: str, count: int) -> list[tuple[bytes, bytes]]:
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
        coherence = self._coherence
        pool_ref = (owner, case_id)
        taken: list[tuple[bytes, bytes]] = []
        waited = False
        while True:
            with coherence.lock:
                pool = self._pools.setdefault(pool_ref, [])
                self._pools.move_to_end(pool_ref)
                while pool and len(taken) < count:
                    taken.extend(pool[-1].take(count - len(taken)))
                    if not pool[-1].left:
                        pool.pop()
                batch = self._batch_sizes.get(pool_ref, self._batch)
                seen = coherence.evictions
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
            with coherence.lock:
                if coherence.evictions != seen:
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
        with self._coherence.lock:
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
        coherence = self._coherence
        pool_ref = (owner, case_id)
        with coherence.lock:
            if pool_ref in self._prefetching or coherence.evictions != seen:
                return
        wrapper = self._scopes.scope_key(owner, case_id, NO_SUBJECT, WRAP)  # cached: just used

        def make(store: KeyStore) -> None:
            try:
                made = self._store_fact_key_block(owner, case_id, count, wrapper, store)
            except Exception:  # the command path makes its own block and reports the error
                return
            with coherence.lock:
                if made is None or coherence.evictions != seen:
                    return
                # Used after the pool's current block.
                self._pools.setdefault(pool_ref, []).insert(0, made)
                for dropped, _ in trim_lru(self._pools, _POOLS):
                    self._batch_sizes.pop(dropped, None)

        def done(_: futures.Future[None]) -> None:
            # However the job ended (the worker may even have failed to connect).
            with coherence.lock:
                entry = self._prefetching.get(pool_ref)
                if entry is not None and entry[0] == seen:
                    del self._prefetching[pool_ref]

        with coherence.lock:
            if pool_ref in self._prefetching or coherence.evictions != seen:
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
        scopes = self._scopes
        wrapper = scopes.scope_key(owner, case_id, NO_SUBJECT, WRAP)
        made = self._store_fact_key_block(owner, case_id, count, wrapper, self.store)
        if made is None:
            self._coherence.sync()
            wrapper = scopes.scope_key(owner, case_id, NO_SUBJECT, WRAP)
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


class FactKeyCache:
    """Opens stored fact keys for reading and keeps recently opened ones (an LRU)."""

    def __init__(
        self, store: KeyStore, scopes: ScopeKeyCache, coherence: KeyCacheCoherence
    ) -> None:
        self.store = store
        self._scopes = scopes
        self._coherence = coherence
        # Unwrapped fact keys of recently opened bodies, most recently used last.
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        coherence.register(self._cache.clear)

    def forget(self, fact_key_ids: Iterable[str], owner: str | None) -> None:
        """Drop the named fact keys, or all of them for a retired ``owner`` (the caller
        holds the lock and moved the stamp on)."""
        for key_id in fact_key_ids:
            self._cache.pop(key_id, None)
        if owner is not None:
            self._cache.clear()

    def fact_keys(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Fact keys that still exist, unwrapped; erased ones are absent."""
        try:
            return self._fact_keys(key_ids)
        except SealedError:
            # A wrapping key may have been re-keyed by another process since we cached it.
            self._coherence.drop_all()
            return self._fact_keys(key_ids)

    def _fact_keys(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        wanted: list[str] = []
        coherence = self._coherence
        with coherence.lock:
            seen = coherence.evictions
            cache = self._cache
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
        wrappers = self._scopes.scope_keys_by_id(
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
        self._scopes.require_destroyed(absent)
        with coherence.lock:
            if coherence.evictions == seen:
                self._cache.update(fresh)
                trim_lru(self._cache, _FACT_KEY_CACHE_LIMIT)
        found.update(fresh)
        return found
