"""Scope keys, found or created in the key store, unwrapped, and cached with prepared scopes.

A scope key is D(owner, case, subject) ("derive"; subject "" = case level) or W(owner, case)
("wrap"), wrapped under the owner's KEK. An event's scope is the owner's case-level key
followed by its key for every subject the event concerns; a :class:`PreparedScope` holds the
data key derived from them, ready to seal and open with.

Prepared scopes are cached three ways (by the scope as a command names it, by the scope key
ids an envelope names, by an envelope's exact header bytes), each entry remembered as built on
its keys so that destroying one key drops just the scopes built on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger._errors import KeyDestroyedError, ScopeErasedError, SealedError
from ledger._key_coherence import KeyCacheCoherence
from ledger._keyring import KeyEncryptionProvider
from ledger._keystore import (
    DERIVE,
    NO_SUBJECT,
    SCOPE_COLUMNS,
    KeyStore,
    ScopeKeyRow,
    scope_row,
)
from ledger._sealing import (
    EnvelopeHeader,
    SealingKey,
    body_header_prefix,
    derive_data_key,
    new_key,
    new_key_id,
)

_CACHE_LIMIT = 200_000  # unwrapped scope keys; beyond it every cache is dropped

EventScope = tuple[str, str, tuple[str, ...]]  # (owner, case id, subject ids as given)


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


class ScopeKeyCache:
    """Finds, creates and caches scope keys and the scopes prepared from them.

    The dictionaries are read without the lock by the sealing and opening hot paths (one
    lookup each) and written only under ``coherence.lock``; they are emptied in place, never
    replaced, so a reference to one stays valid.
    """

    def __init__(
        self, store: KeyStore, keyring: KeyEncryptionProvider, coherence: KeyCacheCoherence
    ) -> None:
        self.store = store
        self.keyring = keyring
        self._coherence = coherence
        self.by_id: dict[bytes, ScopeKey] = {}
        self.by_ref: dict[tuple[str, str, str, str], bytes] = {}
        # Prepared scopes by the scope a command names (subjects as given).
        self.prepared: dict[EventScope, PreparedScope] = {}
        # By the scope key ids an envelope names.
        self.by_key_ids: dict[tuple[bytes, ...], PreparedScope] = {}
        # Event envelopes by their exact header bytes: the hot read path skips parsing.
        self.by_header: dict[bytes, PreparedScope] = {}
        # Scope key id -> the prepared-scope cache entries built on it (for targeted eviction).
        self._dependents: dict[bytes, list[tuple[dict[Any, PreparedScope], Any]]] = {}
        coherence.register(self._clear)

    def _clear(self) -> None:
        self.by_id.clear()
        self.by_ref.clear()
        self.prepared.clear()
        self.by_key_ids.clear()
        self.by_header.clear()
        self._dependents.clear()

    def forget(self, scope_key_ids: Iterable[str], owner: str | None) -> None:
        """Drop the named scope keys, every key of a retired ``owner``, and every prepared
        scope built on any of them (the caller holds the lock and moved the stamp on)."""
        gone = {bytes.fromhex(k) for k in scope_key_ids}
        if owner is not None:
            gone |= {k for k, key in self.by_id.items() if key.owner == owner}
            gone |= {
                k
                for scope in self.prepared.values()
                for k in scope.key_ids
                if scope.keys[0].owner == owner
            }
        for scope_key_id in gone:
            key = self.by_id.pop(scope_key_id, None)
            if key is not None:
                self.by_ref.pop((key.owner, key.case_id, key.subject_id, key.kind), None)
            for cache, entry in self._dependents.pop(scope_key_id, ()):
                cache.pop(entry, None)

    def cache_scope(
        self, seen: int, cache: dict[Any, PreparedScope], entry: Any, scope: PreparedScope
    ) -> None:
        """``cache[entry] = scope`` (``cache`` is one of this object's prepared-scope
        dictionaries), remembered as built on each of its keys (for targeted eviction);
        skipped if caches were dropped since the reader's stamp ``seen``."""
        with self._coherence.lock:
            if self._coherence.evictions != seen:
                return
            cache[entry] = scope
            for key in scope.keys:
                self._dependents.setdefault(key.key_id, []).append((cache, entry))

    # -- scope keys -----------------------------------------------------------------------

    def scope_key(
        self, owner: str, case_id: str, subject_id: str = NO_SUBJECT, kind: str = DERIVE
    ) -> ScopeKey:
        """The scope key for this (owner, case, subject, kind); created on first use."""
        ref = (owner, case_id, subject_id, kind)
        coherence = self._coherence
        with coherence.lock:
            key_id = self.by_ref.get(ref)
            if key_id is not None:
                return self.by_id[key_id]
            seen = coherence.evictions
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
        coherence = self._coherence
        with coherence.lock:
            seen = coherence.evictions
            for key_id in key_ids:
                key = self.by_id.get(key_id)
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
        self.require_destroyed([k for k in missing if k not in rows])
        return found

    def require_destroyed(self, absent: Sequence[str]) -> None:
        """Missing keys (scope or fact key ids) must have been destroyed; otherwise the data
        was tampered with.

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
        coherence = self._coherence
        with coherence.lock:
            if coherence.evictions != seen:
                return
            if len(self.by_id) >= _CACHE_LIMIT:
                coherence.drop_all()
            self.by_id[key.key_id] = key
            self.by_ref[(key.owner, key.case_id, key.subject_id, key.kind)] = key.key_id

    # -- prepared scopes ------------------------------------------------------------------

    def event_scope(self, owner: str, case_id: str, subjects: Sequence[str]) -> PreparedScope:
        """The owner's case-level key followed by its keys for each subject (sorted).

        Cached under the subjects as given (the hot path is one dictionary lookup); the
        same set in another order maps to an equal scope.
        """
        ref = (owner, case_id, subjects if type(subjects) is tuple else tuple(subjects))
        prepared = self.prepared.get(ref)
        if prepared is None:
            seen = self._coherence.evictions
            keys = [self.scope_key(owner, case_id)]
            keys.extend(self.scope_key(owner, case_id, s) for s in sorted(set(subjects)))
            prepared = _prepare(keys)
            self.cache_scope(seen, self.prepared, ref, prepared)
        return prepared

    def prepared_for(
        self, key_ids: tuple[bytes, ...], found: dict[bytes, ScopeKey], seen: int
    ) -> PreparedScope | None:
        """The prepared scope of these key ids (cached unless caches were dropped since
        ``seen``); None if any of them is gone."""
        prepared = self.by_key_ids.get(key_ids)
        if prepared is not None:
            return prepared
        keys = [found.get(k) for k in key_ids]
        if any(k is None for k in keys):
            return None
        prepared = _prepare([k for k in keys if k is not None])
        self.cache_scope(seen, self.by_key_ids, key_ids, prepared)
        return prepared


def _prepare(keys: Sequence[ScopeKey]) -> PreparedScope:
    secret = derive_data_key([k.material for k in keys], b"caseledger/event")
    key_ids = tuple(k.key_id for k in keys)
    return PreparedScope(
        tuple(keys),
        secret,
        SealingKey(secret, EnvelopeHeader(key_ids)),
        _bind_suffix(keys),
        body_header_prefix(key_ids),
    )


def _bind_suffix(keys: Sequence[ScopeKey]) -> bytes:
    """Associated data suffix: the owner and case the keys belong to."""
    owner, case_id = keys[0].owner, keys[0].case_id
    if any(k.owner != owner or k.case_id != case_id for k in keys):
        raise SealedError("scope keys of mixed owners or cases")
    return f"|owner={owner}|case={case_id}".encode()
