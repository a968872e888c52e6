"""Batch atomicity on both stores: a multi-event command whose commit fails at any of its
insert points (each insert it makes, after 0..n of that insert's events were written) stores
nothing of what that commit held, leaves the views and the idempotency record untouched, and
its retry with the same idempotency key succeeds once (a second retry replays, storing nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import PersistenceError

from ledger import CaseLedger, ErasureReport, NewFact, WriteResult
from ledger._faults import FaultPlan, installed
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    REGIE,
    add_subject,
    open_active_case,
    readable,
    record,
    stored_event_count,
)
from tests.integration.read_helpers import ReadStack

WHEN = datetime(2031, 5, 4, 14, 0, tzinfo=UTC)
PURPOSE = "zvh_joint_approach"


@dataclass(frozen=True)
class Command:
    """A multi-event command, ready to run (and rerun) with an idempotency key."""

    events: int  # events one successful run stores, the idempotency record included
    run: Callable[[str], WriteResult | ErasureReport]


def _record_facts(ledger: CaseLedger) -> Command:
    case_id = open_active_case(ledger, invite=("politie",))
    subject = add_subject(ledger, case_id)
    facts = [
        NewFact("observation", (subject,), ("housing",), PURPOSE, "wgs", "participants", (), b)
        for b in ({"n": 1}, {"n": 2}, {"n": 3})
    ]
    return Command(4, lambda key: ledger.record_facts(POLITIE, case_id, facts, idempotency_key=key))


def _close_case(ledger: CaseLedger) -> Command:
    case_id = open_active_case(ledger)
    return Command(
        2, lambda key: ledger.close_case(REGIE, case_id, reason="done", idempotency_key=key)
    )


def _agenda_with_invitations(ledger: CaseLedger) -> Command:
    case_id = open_active_case(ledger, invite=())
    meeting_id = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="room 2").case_id
    invited = ["politie", "reclassering"]
    return Command(
        4,
        lambda key: ledger.add_agenda_item(
            REGIE, meeting_id, case_id=case_id, invited=invited, idempotency_key=key
        ),
    )


def _close_meeting(ledger: CaseLedger) -> Command:
    case_id = open_active_case(ledger, invite=())
    meeting_id = ledger.schedule_meeting(REGIE, scheduled_at=WHEN, place="room 2").case_id
    ledger.add_agenda_item(REGIE, meeting_id, case_id=case_id, invited=["politie"])
    return Command(2, lambda key: ledger.close_meeting(REGIE, meeting_id, idempotency_key=key))


def _refer_case(ledger: CaseLedger) -> Command:
    referral = NewFact("referral", (), ("housing",), PURPOSE, "wgs", "regie", (), {"r": 1})
    return Command(
        4,
        lambda key: ledger.refer_case(
            POLITIE,
            purpose=PURPOSE,
            legal_basis="wgs",
            phase=2,
            case_role="client",
            referral=referral,
            office="zvh",
            idempotency_key=key,
        ),
    )


def _erase_case(ledger: CaseLedger) -> Command:
    case_id = open_active_case(ledger, invite=("politie",))
    subject = add_subject(ledger, case_id)
    for n in range(3):
        record(ledger, POLITIE, case_id, {"n": n}, subjects=[subject] if n else [])
    assert len(readable(ledger, case_id)) == 3
    return Command(
        2,  # the case's Erased event and the idempotency record
        lambda key: ledger.erase_case(
            PRIVACY_OFFICER, case_id, ground="art17", idempotency_key=key
        ),
    )


def _erase_subject(ledger: CaseLedger) -> Command:
    case_id = open_active_case(ledger, invite=("politie",))
    subject = add_subject(ledger, case_id)
    record(ledger, POLITIE, case_id, {"about": "subject"}, subjects=[subject])
    return Command(
        2,
        lambda key: ledger.erase_subject(
            PRIVACY_OFFICER, case_id, subject, ground="art17", idempotency_key=key
        ),
    )


COMMANDS: dict[str, Callable[[CaseLedger], Command]] = {
    "record_facts": _record_facts,
    "close_case": _close_case,
    "agenda_with_invitations": _agenda_with_invitations,
    "close_meeting": _close_meeting,
    "refer_case": _refer_case,
    "erase_case": _erase_case,
    "erase_subject": _erase_subject,
}


def _snapshot(stack: ReadStack) -> tuple[int, str]:
    stack.runner.catch_up()
    return stored_event_count(stack.ledger), stack.views.content_hash()


def _fail_then_retry(stack: ReadStack, name: str, plan: FaultPlan) -> int | None:
    """Run command ``name`` on a fresh target with ``plan`` armed; if the fault fired, check
    that nothing is left of it and that retries succeed once. Returns the failed insert's
    size, or None when the command made fewer inserts than ``plan.nth`` (and succeeded)."""
    command = COMMANDS[name](stack.ledger)
    key = f"atomicity-{name}-{plan.nth}-{plan.at_event}"
    before = _snapshot(stack)
    with installed(plan):
        try:
            command.run(key)
        except PersistenceError:
            assert plan.fired == 1
        else:
            assert plan.fired == 0
            return None
    point = (plan.nth, plan.at_event)
    assert _snapshot(stack) == before, point  # nothing stored, views unchanged
    first = command.run(key)
    assert not first.replayed, point  # no record was left
    events, views = _snapshot(stack)
    assert events == before[0] + command.events, point
    assert views != before[1], point
    again = command.run(key)
    assert again.replayed, point
    assert again.as_dict() == first.as_dict(), point
    assert _snapshot(stack) == (events, views), point
    return plan.size


def _every_insert_point(stack: ReadStack, name: str) -> list[tuple[int, int]]:
    """Fail command ``name`` at each insert it makes, after 0..all of that insert's events."""
    points: list[tuple[int, int]] = []
    nth = 1
    while True:
        at_event = 0
        while True:
            size = _fail_then_retry(stack, name, FaultPlan(nth=nth, at_event=at_event))
            if size is None:
                assert at_event == 0
                return points
            points.append((nth, at_event))
            if at_event == size:
                break
            at_event += 1
        nth += 1


@pytest.mark.parametrize("name", sorted(COMMANDS))
class TestFailedCommitStoresNothing:
    """A commit failing at any insert point leaves no trace; the retry succeeds exactly once."""

    def test_every_insert_point(self, stack: ReadStack, name: str) -> None:
        points = _every_insert_point(stack, name)
        # One transaction holds the whole command: one insert, failing after 0..all events.
        assert points == [(1, n) for n in range(COMMANDS[name](stack.ledger).events + 1)]


class TestErasureKeys:
    """An erasure whose record fails to commit has destroyed its keys whole, never in part."""

    def test_keys_gone_whole_after_a_failed_record(self, stack: ReadStack) -> None:
        ledger = stack.ledger
        case_id = open_active_case(ledger, invite=("politie",))
        subject = add_subject(ledger, case_id)
        for n in range(3):
            record(ledger, POLITIE, case_id, {"n": n}, subjects=[subject] if n else [])
        other = open_active_case(ledger, invite=("politie",))
        kept = record(ledger, POLITIE, other, {"other": True})
        with installed(FaultPlan(nth=1, at_event=1)), pytest.raises(PersistenceError):
            ledger.erase_case(PRIVACY_OFFICER, case_id, ground="art17", idempotency_key="k")
        # Every key of the case went in one key-store transaction: nothing of it opens.
        assert readable(ledger, case_id) == {}
        assert readable(ledger, other) == {kept: {"other": True}}
        assert ledger.get_case(case_id).erasures == []  # the record is what the retry adds
