"""Interned aggregate ids: one UUID object and one text form per id, cached.

Reading the log turns every row's ``originator_id`` text into a ``UUID`` and then, for the
associated data and the projections, back into text: about 2 us per event at rebuild
rates, for ids that repeat (a case has many events). Both directions are cached here, in
bounded dicts (UUIDs are immutable, so sharing one object is safe).
"""

from __future__ import annotations

from uuid import UUID

_LIMIT = 65_536
_by_text: dict[str, UUID] = {}
_text_of: dict[UUID, str] = {}


def uuid_of(text: str) -> UUID:
    """``UUID(text)``, the same object for the same text while it is cached."""
    found = _by_text.get(text)
    if found is None:
        if len(_by_text) >= _LIMIT:
            _by_text.clear()
        found = _by_text[text] = UUID(text)
    return found


def text_of(uid: UUID) -> str:
    """``str(uid)``, cached."""
    found = _text_of.get(uid)
    if found is None:
        if len(_text_of) >= _LIMIT:
            _text_of.clear()
        found = _text_of[uid] = str(uid)
    return found
