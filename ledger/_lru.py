"""Bounding the in-memory LRU caches (an ``OrderedDict``, most recently used last)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def trim_lru(
    cache: OrderedDict[K, V],
    max_entries: int,
    *,
    max_weight: int | None = None,
    weight: Callable[[V], int] = lambda _: 1,
) -> list[tuple[K, V]]:
    """Drop least recently used entries beyond ``max_entries`` and then beyond ``max_weight``
    (the sum of ``weight`` over the entries; the newest entry is always kept). Returns what
    was dropped, oldest first."""
    dropped = []
    while len(cache) > max_entries:
        dropped.append(cache.popitem(last=False))
    if max_weight is not None:
        total = sum(weight(v) for v in cache.values())
        while total > max_weight and len(cache) > 1:
            key, value = cache.popitem(last=False)
            total -= weight(value)
            dropped.append((key, value))
    return dropped
