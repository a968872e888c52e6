"""After an erasure in this process, caches lose what was destroyed and keep the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

import ledger._fact_keys as fact_keys_module
from ledger import StoreConfig
from ledger import _erasure as erasure
from tests.integration._ledger_support import (
    POLITIE,
    add_subject,
    open_active_case,
    opened,
    readable,
    record,
)


def _cached_scope_ids(keys: object) -> set[str]:
    return {k.hex() for k in keys.scopes.by_id}  # type: ignore[attr-defined]


def test_erasure_drops_only_the_destroyed_keys(tmp_path: Path) -> None:
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        erased_case, kept_case = open_active_case(ledger), open_active_case(ledger)
        erased_subject = add_subject(ledger, erased_case)
        kept_subject = add_subject(ledger, kept_case)
        record(ledger, POLITIE, erased_case, {"n": 1}, subjects=[erased_subject])
        kept_fact = record(ledger, POLITIE, kept_case, {"n": 2}, subjects=[kept_subject])
        readable(ledger, kept_case)  # warm the caches for both cases
        readable(ledger, erased_case)
        keys = ledger.keys
        before = _cached_scope_ids(keys)

        destroyed = erasure.destroy_subject(keys, erased_case, erased_subject)

        after = _cached_scope_ids(keys)
        assert destroyed.scope_key_ids
        assert after.isdisjoint(destroyed.scope_key_ids)
        assert after == before - set(destroyed.scope_key_ids)  # the rest stays cached
        assert all(
            set(p.key_ids).isdisjoint(bytes.fromhex(k) for k in destroyed.scope_key_ids)
            for p in [*keys.scopes.prepared.values(), *keys.scopes.by_key_ids.values()]
        )
        assert keys.generation == keys.store.generation()
        ledger._cache.clear()
        assert readable(ledger, kept_case)[kept_fact] == {"n": 2}


def test_an_erasure_elsewhere_in_between_drops_everything(tmp_path: Path) -> None:
    config = StoreConfig(data_dir=tmp_path / "data")
    with opened(config) as ledger, opened(config) as other:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        record(ledger, POLITIE, case_id, {"n": 1}, subjects=[subject])
        readable(ledger, case_id)
        other_case = open_active_case(other)
        other_subject = add_subject(other, other_case)
        erasure.destroy_subject(other.keys, other_case, other_subject)  # not seen by `ledger`

        erasure.destroy_subject(ledger.keys, case_id, subject)

        assert _cached_scope_ids(ledger.keys) == set()
        assert ledger.keys.generation == ledger.keys.store.generation()


def test_fact_key_pools_go_with_their_case_only(tmp_path: Path) -> None:
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        erased_case, kept_case = open_active_case(ledger), open_active_case(ledger)
        subject = add_subject(ledger, kept_case)
        for case_id in (erased_case, kept_case):
            record(ledger, POLITIE, case_id, {"n": 1})
        keys = ledger.keys
        assert {ref[1] for ref in keys.pool._pools} == {erased_case, kept_case}

        erasure.destroy_subject(keys, kept_case, subject)
        assert {ref[1] for ref in keys.pool._pools} == {erased_case, kept_case}  # no key rows gone

        erasure.destroy_case(keys, erased_case)
        assert {ref[1] for ref in keys.pool._pools} == {kept_case}
        fresh = record(ledger, POLITIE, kept_case, {"n": 2})
        ledger._cache.clear()
        assert readable(ledger, kept_case)[fresh] == {"n": 2}  # pooled keys still open


def test_fact_key_pools_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fact_keys_module, "_POOLS", 2)
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        cases = [open_active_case(ledger) for _ in range(3)]
        for case_id in cases:
            record(ledger, POLITIE, case_id, {"n": 1})
        assert [ref[1] for ref in ledger.keys.pool._pools] == cases[1:]


def test_a_key_read_before_an_eviction_is_not_cached_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that fetched keys just before an erasure emptied the caches must not put
    them back: an erased subject's events would open from the cache again."""
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        fact = record(ledger, POLITIE, case_id, {"n": 1}, subjects=[subject])
        keys = ledger.keys
        keys.clear_caches()
        ledger._cache.clear()
        fetch = keys.store.get_scope_keys

        def fetch_then_evicted(key_ids: list[str]) -> object:
            rows = fetch(key_ids)
            keys.clear_caches()  # what an erasure in another thread does meanwhile
            return rows

        monkeypatch.setattr(keys.store, "get_scope_keys", fetch_then_evicted)
        assert readable(ledger, case_id)[fact] == {"n": 1}  # the read itself succeeds
        assert _cached_scope_ids(keys) == set()
        assert not keys.scopes.by_key_ids
        assert not keys.scopes.by_header
        assert not keys.fact_key_cache._cache

        monkeypatch.setattr(keys.store, "get_scope_keys", fetch)
        ledger._cache.clear()
        assert readable(ledger, case_id)[fact] == {"n": 1}
        assert _cached_scope_ids(keys)  # cached again once nothing interferes
        assert keys.scopes.by_header
