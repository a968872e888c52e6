"""The ledger's case cache and the read side's metadata cache stay within their budgets."""

from __future__ import annotations

import threading
from pathlib import Path
from uuid import UUID

import pytest

import ledger._case_cache as case_cache
import projections._candidate_cache as candidate_cache
from api.bootstrap import build_services
from api.settings import Settings
from ledger import StoreConfig
from policies import sample_covenant_path
from projections import ReadRequest
from tests.integration._ledger_support import (
    POLITIE,
    REGIE,
    open_active_case,
    opened,
    record,
)


def test_case_cache_drops_least_recent_cases_beyond_the_fact_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_cache, "CASE_CACHE_FACTS", 10)
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        cases = [open_active_case(ledger) for _ in range(3)]
        for case_id in cases:
            for n in range(4):
                record(ledger, POLITIE, case_id, {"n": n})
        ledger._cache.clear()
        for case_id in cases:
            ledger.get_case(case_id)

        cached = list(ledger._cache)
        assert cached == [UUID(cases[1]), UUID(cases[2])]  # 4 + 4 facts <= 10 < 12
        assert sum(len(c.facts) for c in ledger._cache.values()) <= 10
        # A dropped case still loads, complete, from the store.
        assert len(ledger.get_case(cases[0]).facts) == 4


def test_a_case_larger_than_the_budget_is_still_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_cache, "CASE_CACHE_FACTS", 2)
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        case_id = open_active_case(ledger)
        for n in range(5):
            record(ledger, POLITIE, case_id, {"n": n})
        ledger._cache.clear()
        assert len(ledger.get_case(case_id).facts) == 5
        assert list(ledger._cache) == [UUID(case_id)]  # the newest is kept


def test_fact_metadata_cache_has_a_fact_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(candidate_cache, "CANDIDATE_CACHE_FACTS", 5)
    settings = Settings(data_dir=tmp_path / "data", covenant_path=Path(str(sample_covenant_path())))
    services = build_services(settings)
    try:
        cases = [open_active_case(services.ledger) for _ in range(3)]
        for case_id in cases:
            for n in range(3):
                record(services.ledger, POLITIE, case_id, {"n": n})
        request = ReadRequest(REGIE.principal, REGIE.purpose)
        for case_id in cases:
            services.reads.case_overview(request, case_id)

        assert list(services.reads._candidates) == [cases[2]]  # 3 facts; 6 would not fit
        overview = services.reads.case_overview(request, cases[0])
        assert len(overview.facts) == 3  # reloaded, not lost
    finally:
        services.close()


def test_parallel_commands_on_many_cases_share_the_cache_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads loading, evicting and dropping cases at once (as the HTTP server's worker
    threads do) never see the LRU mid-change, and no per-case lock outlives its users."""
    monkeypatch.setattr(case_cache, "CASE_CACHE_SIZE", 3)
    with opened(StoreConfig(data_dir=tmp_path / "data")) as ledger:
        cases = [open_active_case(ledger) for _ in range(8)]
        failures: list[BaseException] = []

        def churn(offset: int) -> None:
            try:
                for n in range(300):
                    case_id = cases[(offset + n) % len(cases)]
                    ledger.get_case(case_id)
                    if n % 7 == 0:
                        ledger._cache.drop(UUID(case_id))
                    list(ledger._cache)
            except BaseException as error:  # the assertion below names it
                failures.append(error)

        threads = [threading.Thread(target=churn, args=(k,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        assert len(ledger._cache) <= 3
        assert ledger._cache.lock_count() == 0
        assert all(len(ledger.get_case(c).facts) == 0 for c in cases)
