"""Interned aggregate ids: one UUID object and one text form per id, cached.

Reading the log turns every row's ``originator_id`` text into a ``UUID`` and then, for the
associated data and the projections, back into text: about 2 us per event at rebuild
rates, for ids that repeat (a case has many events). Both directions are cached here, in
bounded dicts (UUIDs are immutable, so sharing one object is safe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

_LIMIT = 65_536
_by_text: dict[str, UUID] = {}
_text_of: dict[int, str] = {}  # by the UUID's number: hashing that stays in C

K = TypeVar("K")
V = TypeVar("V")


def uuid_of(text: str) -> UUID:
    """``UUID(text)``, the same object for the same text while it is cached."""
    return _memo(_by_text, text, UUID)


def text_of(uid: UUID) -> str:
    """``str(uid)``, cached (once per event on the write path, so written out)."""
    number = uid.int
    found = _text_of.get(number)
    if found is None:
        if len(_text_of) >= _LIMIT:
            _text_of.clear()
        found = _text_of[number] = str(uid)
    return found


def _memo(cache: dict[K, V], key: K, make: Callable[[K], V]) -> V:
    found = cache.get(key)
    if found is None:
        if len(cache) >= _LIMIT:
            cache.clear()
        found = cache[key] = make(key)
    return found
