"""Recent cases' fact metadata, kept while the case has not changed (an LRU, bounded twice).

Every change to a fact is an event of its case, so a case's projected version names its
facts' metadata exactly: an entry is used only for the version it was loaded at.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

from ledger import trim_lru
from policies import FactMetadata

CANDIDATE_CACHE_CASES = 256
CANDIDATE_CACHE_FACTS = 10_000  # about 1.7 kB of metadata each


class CandidateCache:
    """case id -> (projected case version, its facts' metadata); safe across threads."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[int, tuple[FactMetadata, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, case_id: str, version: int) -> list[FactMetadata] | None:
        """The metadata loaded at ``version``, or None (unknown, or the case changed)."""
        with self._lock:
            cached = self._entries.get(case_id)
            if cached is None or cached[0] != version:
                return None
            self._entries.move_to_end(case_id)
            return list(cached[1])

    def put(self, case_id: str, version: int, facts: list[FactMetadata]) -> None:
        """Keep ``facts`` for ``version``, dropping the least recent cases beyond the bounds."""
        with self._lock:
            self._entries[case_id] = (version, tuple(facts))
            trim_lru(
                self._entries,
                CANDIDATE_CACHE_CASES,
                max_weight=CANDIDATE_CACHE_FACTS,
                weight=lambda entry: len(entry[1]),
            )

    def __iter__(self) -> Iterator[str]:
        """The cached case ids, least recently used first."""
        with self._lock:
            return iter(list(self._entries))
