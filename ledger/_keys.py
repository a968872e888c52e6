"""The key hierarchy at work: sealing and opening events and fact bodies with it.

    KEK(owner, version)            keyring (outside the databases)
      wraps D(owner, case, subject)  "derive" scope keys; subject "" = case level; never re-keyed
      wraps W(owner, case)           "wrap" scope key; re-keyed by an erasure epoch
        wraps blocks of FK(fact)     one random fact key per recorded body, many per row

An event is sealed under a data key derived (HKDF) from the owner's case-level key and the
owner's key for every subject the event concerns, so destroying the case's keys or any one
subject's keys makes it unreadable. A fact body is sealed under a key derived from the same
scope keys plus its own fact key, so erasing one fact destroys just its fact key.

:class:`KeyManager` composes the parts: the scope-key cache (``ledger._scope_keys``), the
fact-key pool and fact-key cache (``ledger._fact_keys``), and the coherence they share
(``ledger._key_coherence``): caches are dropped whenever the key store's erasure generation
moves (checked by :meth:`KeyManager.sync`); a reader that started before such a drop does not
put what it read back into them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from ledger._errors import KeyDestroyedError, SealedError
from ledger._fact_keys import FactKeyCache, FactKeyPool
from ledger._key_coherence import KeyCacheCoherence
from ledger._keyring import KeyEncryptionProvider
from ledger._keystore import DERIVE, NO_SUBJECT, KeyStore, ScopeKeyRow
from ledger._scope_keys import EventScope, PreparedScope, ScopeKey, ScopeKeyCache
from ledger._sealing import (
    KEY_ID_BYTES,
    SealedBody,
    body_key,
    open_sealed_at,
    read_header,
    seal_fact_bodies,
)


class KeyManager:
    """Seals and opens events and fact bodies with keys its caches find, make and keep."""

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
        self.coherence = KeyCacheCoherence(store, key_lifetime=key_lifetime, monotonic=monotonic)
        self.scopes = ScopeKeyCache(store, keyring, self.coherence)
        self.pool = FactKeyPool(store, self.scopes, self.coherence, first_block=fact_key_batch)
        self.fact_key_cache = FactKeyCache(store, self.scopes, self.coherence)
        # The scope cache's own dictionaries (emptied in place, never replaced), held here so
        # that the per-event sealing and opening paths stay one dictionary lookup.
        self._prepared = self.scopes.prepared
        self._by_key_ids = self.scopes.by_key_ids
        self._by_header = self.scopes.by_header

    def close(self) -> None:
        self.pool.close()
        self.store.close()

    def wait_for_background(self) -> None:
        """Return once fact-key blocks being made in the background are done (benchmarks
        and tests; commands never need to)."""
        self.pool.wait_for_background()

    @property
    def generation(self) -> int:
        """The erasure generation the caches hold keys of (no store access).

        A command notes it before it seals with cached keys; its commit then stores events
        only while the key store is still at that generation (see ``CaseLedger._save_many``).
        """
        return self.coherence.generation

    @property
    def key_lifetime(self) -> float | None:
        """Seconds unwrapped keys are kept at most (None: no limit); checked by ``sync``."""
        return self.coherence.key_lifetime

    @key_lifetime.setter
    def key_lifetime(self, seconds: float | None) -> None:
        self.coherence.key_lifetime = seconds

    # -- cache coherence ------------------------------------------------------------------

    def sync(self) -> bool:
        """Drop every cache if an erasure happened anywhere since, or if the caches have
        reached their lifetime; True if they were dropped."""
        return self.coherence.sync()

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
        coherence = self.coherence
        with coherence.lock:
            if generation != coherence.generation + 1:
                coherence.drop_all()
                coherence.generation = generation
                return
            coherence.generation = generation
            coherence.evictions += 1
            self.scopes.forget(scope_key_ids, owner)
            self.fact_key_cache.forget(fact_key_ids, owner)
            self.pool.forget(owner, case_id)

    def clear_caches(self) -> None:
        self.coherence.drop_all()

    # -- keys -----------------------------------------------------------------------------

    def scope_key(
        self, owner: str, case_id: str, subject_id: str = NO_SUBJECT, kind: str = DERIVE
    ) -> ScopeKey:
        """The scope key for this (owner, case, subject, kind); created on first use."""
        return self.scopes.scope_key(owner, case_id, subject_id, kind)

    def scope_keys_by_id(self, key_ids: Sequence[bytes]) -> dict[bytes, ScopeKey]:
        """Scope keys that still exist; destroyed ones are absent (SealedError for an id
        neither present nor recorded as destroyed)."""
        return self.scopes.scope_keys_by_id(key_ids)

    def unwrap_scope(self, row: ScopeKeyRow) -> ScopeKey:
        """A stored scope key, unwrapped under its owner's KEK."""
        return self.scopes.unwrap_scope(row)

    def event_scope(self, owner: str, case_id: str, subjects: Sequence[str]) -> PreparedScope:
        """The owner's case-level key followed by its keys for each subject (sorted)."""
        return self.scopes.event_scope(owner, case_id, subjects)

    def allocate_fact_keys(self, owner: str, case_id: str, count: int) -> list[tuple[bytes, bytes]]:
        """``count`` fresh fact keys (binary id, material), all committed before use."""
        return self.pool.allocate(owner, case_id, count)

    def fact_keys(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Fact keys that still exist, unwrapped; erased ones are absent."""
        return self.fact_key_cache.fact_keys(key_ids)

    # -- sealing with the hierarchy -------------------------------------------------------

    def seal_event(
        self,
        scope: EventScope,
        plaintext: bytes,
        context: bytes,
        *trailer: bytes,
    ) -> bytes:
        """The event sealed in ``scope`` (owner, case id, subject ids: an event's
        ``SealingScope``), followed by ``trailer`` (not sealed here) in one copy."""
        return self.seal_events(scope, ((plaintext, context, trailer),))[0]

    def seal_events(
        self,
        scope: EventScope,
        items: Sequence[tuple[bytes, bytes, tuple[bytes, ...]]],
    ) -> list[bytes]:
        """Several events sealed in one ``scope``, as :meth:`seal_event` seals each
        (plaintext, context, trailer) item, in one loop (``SealingKey.seal_many``)."""
        prepared = self._prepared.get(scope)  # the key :meth:`event_scope` caches under
        if prepared is None:
            prepared = self.scopes.event_scope(*scope)
        return prepared.event_key.seal_many(items, prepared.bind_suffix)

    def open_event(self, blob: bytes, context: bytes) -> bytes:
        """Open a sealed event; KeyDestroyedError when any of its keys was destroyed."""
        if len(blob) > 3:
            # A header seen before (same bytes, so same format, flags and key ids).
            known = self._by_header.get(blob[: 3 + KEY_ID_BYTES * blob[2]])
            if known is not None:
                return known.event_key.open(blob, known.bind(context))
        seen = self.coherence.evictions
        header, _ = read_header(blob)
        if header.fact_key_id is not None:
            raise SealedError("not an event envelope")
        ids = header.scope_key_ids
        scopes = self.scopes
        scope = self._by_key_ids.get(ids)
        if scope is None:
            found = scopes.scope_keys_by_id(ids)
            if len(found) != len(ids):
                raise KeyDestroyedError("a key of this event was destroyed")
            scope = scopes.prepared_for(ids, found, seen)
            assert scope is not None  # every key was found
        plaintext = scope.event_key.open(blob, scope.bind(context))
        scopes.cache_scope(seen, self._by_header, scope.event_key.header_bytes, scope)
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
        fact_keys = self.pool.allocate(owner, case_id, len(items))
        event_scope = self.scopes.event_scope
        sealed: list[SealedBody] = []
        for start, end in runs([subjects for subjects, _, _ in items]):
            scope = event_scope(owner, case_id, items[start][0])
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
        seen = self.coherence.evictions
        headers = [read_header(blob) for blob, _ in items]
        fact_keys = self.fact_key_cache.fact_keys(
            [h.fact_key_id.hex() for h, _ in headers if h.fact_key_id is not None]
        )
        scopes = self.scopes
        scope = scopes.scope_keys_by_id(list({k for h, _ in headers for k in h.scope_key_ids}))
        prepared_for = scopes.prepared_for
        opened: list[bytes | None] = []
        for (blob, context), (header, offset) in zip(items, headers, strict=True):
            if header.fact_key_id is None:
                raise SealedError("sealed body has no fact key")
            fact_key = fact_keys.get(header.fact_key_id.hex())
            prepared = prepared_for(header.scope_key_ids, scope, seen)
            if fact_key is None or prepared is None:
                opened.append(None)
                continue
            opened.append(
                open_sealed_at(
                    body_key(prepared.secret, fact_key), blob, offset, prepared.bind(context)
                )
            )
        return opened


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
