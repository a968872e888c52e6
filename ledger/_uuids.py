"""Interned aggregate ids: one UUID object and one text form per id, cached.

Reading the log turns every row's ``originator_id`` text into a ``UUID`` and then, for the
associated data and the projections, back into text: about 2 us per event at rebuild
rates, for ids that repeat (a case has many events). Both directions are cached here, in
bounded dicts (UUIDs are immutable, so sharing one object is safe).
"""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

_LIMIT = 65_536
_by_text: dict[str, UUID] = {}
_text_of: dict[int, str] = {}

K = TypeVar("K")
V = TypeVar("V")


def uuid_of(text: str) -> UUID:
    """``UUID(text)``, the same object for the same text while it is cached."""
    found = _by_text.get(text)
    return found if found is not None else _remember(_by_text, text, UUID(text))


def text_of(uid: UUID) -> str:
    """``str(uid)``, cached (by number: hashing an int stays in C, a UUID's hash does not)."""
    number = uid.int
    found = _text_of.get(number)
    return found if found is not None else _remember(_text_of, number, str(uid))


def _remember(cache: dict[K, V], key: K, value: V) -> V:
    if len(cache) >= _LIMIT:
        cache.clear()
    cache[key] = value
    return value
