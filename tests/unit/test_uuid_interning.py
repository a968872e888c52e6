"""Aggregate ids read from the log are interned: equal values, shared objects, bounded."""

from __future__ import annotations

import uuid

import pytest

from ledger import _uuids
from ledger._uuids import text_of, uuid_of


def test_same_text_gives_the_same_uuid_object() -> None:
    text = str(uuid.uuid4())
    first = uuid_of(text)
    assert first == uuid.UUID(text)
    assert uuid_of(text) is first


def test_text_of_is_str() -> None:
    uid = uuid.uuid4()
    assert text_of(uid) == str(uid)
    assert text_of(uid) is text_of(uid)


def test_malformed_text_raises_like_uuid() -> None:
    with pytest.raises(ValueError, match="badly formed"):
        uuid_of("not-a-uuid")


def test_caches_stay_within_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_uuids, "_LIMIT", 8)
    monkeypatch.setattr(_uuids, "_by_text", {})
    monkeypatch.setattr(_uuids, "_text_of", {})
    ids = [uuid.uuid4() for _ in range(50)]
    for uid in ids:
        assert uuid_of(str(uid)) == uid
        assert text_of(uid) == str(uid)
    assert len(_uuids._by_text) <= 8
    assert len(_uuids._text_of) <= 8
