"""The group committer behind POST facts: shared commits, per-request answers, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, cast

import pytest

from api._writes import FactCommitter
from ledger import (
    CaseLedger,
    ConcurrencyConflictError,
    NewFact,
    NotParticipantError,
    RequestContext,
    WriteResult,
)
from policies import PartnerId, Principal, RoleId, UserId


def _ctx(partner: str) -> RequestContext:
    principal = Principal(UserId(f"{partner}-1"), PartnerId(partner), frozenset({RoleId("x")}))
    return RequestContext(principal, "zvh_joint_approach")


POLICE, GGZ = _ctx("politie"), _ctx("ggz")


def _fact(text: str) -> NewFact:
    return NewFact("observation", (), (), "zvh_joint_approach", "wgs", "participants", (), text)


class FakeLedger:
    """Records each transaction; the first one is held until released, so others queue."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[Any]]] = []
        self.version = 0
        self.release = threading.Event()
        self.conflicts = 0

    def record_facts(
        self, ctx: RequestContext, case_id: str, facts: Sequence[NewFact]
    ) -> WriteResult:
        if not self.calls:
            self.release.wait(5)
        if self.conflicts:
            self.conflicts -= 1
            raise ConcurrencyConflictError(case_id, self.version)
        if any(f.body == "refused" for f in facts):
            raise NotParticipantError("refused")
        self.calls.append((case_id, ctx.principal.partner, [f.body for f in facts]))
        self.version += len(facts)
        ids = ",".join(f"id-{f.body}" for f in facts)
        return WriteResult(case_id, self.version, ids)


def _committer(ledger: FakeLedger) -> FactCommitter:
    return FactCommitter(cast(CaseLedger, ledger), max_batch=4)


async def _record_all(
    committer: FactCommitter, ledger: FakeLedger, items: list[tuple[RequestContext, str, str]]
) -> list[WriteResult | BaseException]:
    first = asyncio.ensure_future(committer.record(POLICE, "case-0", _fact("first")))
    await asyncio.sleep(0.05)  # the committer now holds the first transaction open
    rest = [asyncio.ensure_future(committer.record(c, case, _fact(t))) for c, case, t in items]
    await asyncio.sleep(0.05)
    ledger.release.set()
    await first
    return list(await asyncio.gather(*rest, return_exceptions=True))


def test_queued_facts_share_commits_by_case_and_caller_in_arrival_order() -> None:
    ledger = FakeLedger()
    committer = _committer(ledger)
    items = [(POLICE, "case-1", f"p{i}") for i in range(6)]
    items += [(GGZ, "case-1", "g0"), (POLICE, "case-2", "other")]
    results = asyncio.run(_record_all(committer, ledger, items))
    committer.close()
    assert ledger.calls[0] == ("case-0", "politie", ["first"])
    assert sorted(ledger.calls[1:]) == sorted(
        [
            ("case-1", "politie", ["p0", "p1", "p2", "p3"]),  # max_batch 4
            ("case-1", "politie", ["p4", "p5"]),
            ("case-1", "ggz", ["g0"]),
            ("case-2", "politie", ["other"]),
        ]
    )
    assert [r.created_id for r in results if isinstance(r, WriteResult)] == [
        f"id-{t}" for _, _, t in items
    ]
    police_case_1 = [r.version for r in results[:6] if isinstance(r, WriteResult)]
    assert police_case_1 == sorted(police_case_1)
    assert len(set(police_case_1)) == 6


def test_a_refused_fact_fails_alone() -> None:
    ledger = FakeLedger()
    committer = _committer(ledger)
    items = [(POLICE, "case-1", "a"), (POLICE, "case-1", "refused"), (POLICE, "case-1", "b")]
    results = asyncio.run(_record_all(committer, ledger, items))
    committer.close()
    assert isinstance(results[1], NotParticipantError)
    assert [r.created_id for r in (results[0], results[2]) if isinstance(r, WriteResult)] == [
        "id-a",
        "id-b",
    ]
    assert ("case-1", "politie", ["a"]) in ledger.calls
    assert ("case-1", "politie", ["b"]) in ledger.calls


def test_lost_races_are_retried() -> None:
    ledger = FakeLedger()
    ledger.release.set()
    ledger.conflicts = 3
    committer = _committer(ledger)

    async def one() -> WriteResult:
        return await committer.record(POLICE, "case-1", _fact("x"))

    assert asyncio.run(one()).created_id == "id-x"
    committer.close()


def test_close_commits_what_is_queued_then_refuses() -> None:
    ledger = FakeLedger()
    ledger.release.set()
    committer = _committer(ledger)

    async def scenario() -> None:
        pending = [
            asyncio.ensure_future(committer.record(POLICE, "c", _fact(str(i)))) for i in range(5)
        ]
        await asyncio.sleep(0)  # all five queued
        await asyncio.get_running_loop().run_in_executor(None, committer.close)
        assert [r.created_id for r in await asyncio.gather(*pending)] == [
            f"id-{i}" for i in range(5)
        ]
        with pytest.raises(RuntimeError, match="closed"):
            await committer.record(POLICE, "c", _fact("late"))

    asyncio.run(scenario())
