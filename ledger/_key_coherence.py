"""What keeps one process's key caches true to the key store.

Every cache of unwrapped keys (scope keys and prepared scopes, opened fact keys, fresh fact-key
pools) registers here and shares one re-entrant lock, one eviction stamp and one record of the
erasure generation it holds keys of. All of them are emptied together, under that lock, in
one step: whenever the key store's erasure generation moves, when they reach their lifetime,
or when one of them outgrows its bound.

The eviction stamp moves on whenever caches are dropped (in full or in part). A reader notes
it before it reads keys from the store and caches what it read only if it has not moved: a
key read just before an erasure destroyed it must not re-enter a cache just emptied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ledger._keystore import KeyStore


class KeyCacheCoherence:
    """The lock, eviction stamp, generation and lifetime shared by one manager's caches."""

    def __init__(
        self,
        store: KeyStore,
        *,
        key_lifetime: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.lock = threading.RLock()
        # Read without the lock by readers taking their stamp; written only under it.
        self.evictions = 0
        # The erasure generation the caches hold keys of (written only under the lock).
        self.generation = store.generation()
        # Unwrapped keys are kept at most ``key_lifetime`` seconds: every cache is dropped
        # when that much time has passed since it was last emptied (checked by ``sync``).
        self.key_lifetime = key_lifetime
        self._monotonic = monotonic
        self._emptied_at = monotonic()
        self._clears: list[Callable[[], None]] = []

    def register(self, clear: Callable[[], None]) -> None:
        """Have ``clear`` (which empties one cache; called under the lock) run with every
        :meth:`drop_all`."""
        self._clears.append(clear)

    def drop_all(self) -> None:
        """Empty every registered cache and move the eviction stamp on."""
        with self.lock:
            self.evictions += 1
            self._emptied_at = self._monotonic()
            for clear in self._clears:
                clear()

    def sync(self) -> bool:
        """Drop every cache if an erasure happened anywhere since, or if the caches have
        reached their lifetime; True if they were dropped."""
        generation = self.store.generation()
        with self.lock:
            if generation == self.generation and not self._expired():
                return False
            self.drop_all()
            self.generation = generation
            return True

    def _expired(self) -> bool:
        lifetime = self.key_lifetime
        return lifetime is not None and self._monotonic() - self._emptied_at >= lifetime
