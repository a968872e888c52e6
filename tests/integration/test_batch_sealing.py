"""A commit's events are sealed in one batch, each still under the keys of its own scope.

The mapper transcodes a commit's events first and then seals each run of events with the
same scope in one loop (``SealingMapper.to_stored_events``). A run cut in the wrong place
would seal an event under another subject's keys: it would still open, but erasing its own
subject would leave it readable. These tests mix scopes in one commit and check the key ids
every stored event carries, what an erasure then redacts, and that the event store returns
what the library's returns.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import EventStore, Mapper

from ledger import Case, CaseLedger, NewFact, StoreConfig
from ledger._mapper import BatchSealingEventStore, SealingMapper
from ledger._sealing import read_header
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    PURPOSE,
    add_subject,
    bodies,
    open_active_case,
    opened,
)


def _fact(note: str, subjects: tuple[str, ...]) -> NewFact:
    return NewFact(
        "observation", subjects, ("housing",), PURPOSE, "wgs", "participants", (), {"note": note}
    )


def _own_scope_key_ids(ledger: CaseLedger, event: Any, case_id: str) -> tuple[bytes, ...]:
    scope = event.sealing_scope(case_id)
    return ledger.keys.event_scope(*scope).key_ids


@pytest.fixture
def mixed(store_config: StoreConfig) -> Any:
    """One commit of facts about A, A, B, nobody, A, B (and, with its idempotency key, a
    record sealed in yet another scope)."""
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        a, b = add_subject(ledger, case_id), add_subject(ledger, case_id)
        plan = [("a1", (a,)), ("a2", (a,)), ("b1", (b,)), ("none", ()), ("a3", (a,)), ("b2", (b,))]
        before = ledger.get_case(case_id).version
        result = ledger.record_facts(
            POLITIE, case_id, [_fact(note, s) for note, s in plan], idempotency_key="batch-1"
        )
        notes = dict(zip(result.created_id.split(","), (note for note, _ in plan), strict=True))
        yield ledger, case_id, a, b, before, notes


def test_each_stored_event_carries_the_key_ids_of_its_own_scope(mixed: Any) -> None:
    ledger, case_id, a, b, before, notes = mixed
    stored = list(ledger.recorder.select_events(UUID(case_id), gt=before))
    assert len(stored) == len(notes)
    subjects_seen = []
    for record in stored:
        event = ledger.mapper.to_domain_event(record)
        header, _ = read_header(record.state)
        assert header.scope_key_ids == _own_scope_key_ids(ledger, event, case_id)
        subjects_seen.append(tuple(event.subjects))
    assert subjects_seen == [(a,), (a,), (b,), (), (a,), (b,)]


def test_erasing_one_subject_redacts_exactly_its_facts_of_the_batch(mixed: Any) -> None:
    ledger, case_id, _, b, before, notes = mixed
    ledger.erase_subject(PRIVACY_OFFICER, case_id, b, ground="art17")
    opened_now = bodies(ledger, case_id)
    readable = {notes[f] for f, body in opened_now.items() if f in notes and body is not None}
    assert readable == {"a1", "a2", "none", "a3"}
    assert all(opened_now.get(f) is None for f, note in notes.items() if note.startswith("b"))
    # The events themselves (the facts' metadata) of B's facts no longer open either.
    stored = ledger.recorder.select_events(UUID(case_id), gt=before, lte=before + len(notes))
    kinds = [type(ledger.mapper.to_domain_event(record)) for record in stored]
    assert kinds == [Case.FactRecorded] * 2 + [Case.Redacted] + [Case.FactRecorded] * 2 + [
        Case.Redacted
    ]


def test_batch_and_one_by_one_mapping_store_the_same_events(mixed: Any) -> None:
    ledger, case_id, *_ = mixed
    mapper = ledger.mapper
    assert isinstance(mapper, SealingMapper)
    events = list(ledger.events.get(UUID(case_id)))
    batch = mapper.to_stored_events(events)
    single = [mapper.to_stored_event(e) for e in events]
    assert [(s.originator_id, s.originator_version, s.topic) for s in batch] == [
        (s.originator_id, s.originator_version, s.topic) for s in single
    ]
    assert len({s.state for s in batch} | {s.state for s in single}) == 2 * len(
        events
    )  # fresh nonces
    for one, other in zip(batch, single, strict=True):
        assert vars(mapper.to_domain_event(one)) == vars(mapper.to_domain_event(other))


def test_the_event_store_returns_what_the_librarys_returns(store_config: StoreConfig) -> None:
    with opened(store_config) as ledger:
        assert isinstance(ledger.events, BatchSealingEventStore)
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        before = ledger.get_case(case_id).version
        ledger.record_facts(POLITIE, case_id, [_fact("x", (subject,)), _fact("y", ())])
        # The two events just stored, stored again as another aggregate's: the recordings.
        copies = [_moved(e, uuid4()) for e in ledger.events.get(UUID(case_id), gt=before)]
        last = ledger.recorder.max_notification_id() or 0
        recordings = ledger.events.put(copies)
        assert [r.domain_event for r in recordings] == copies
        ids = [r.notification.id for r in recordings]
        assert ids == [last + 1, last + 2]
        notifications = ledger.recorder.select_notifications(last + 1, 2)
        assert [n.id for n in notifications] == ids
        assert [n.state for n in notifications] == [r.notification.state for r in recordings]
        assert [(n.originator_id, n.originator_version) for n in notifications] == [
            (e.originator_id, e.originator_version) for e in copies
        ]


def _moved(event: Any, originator_id: UUID) -> Any:
    """The event as if another aggregate's (storing it again conflicts with nothing)."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", {**vars(event), "originator_id": originator_id})
    return copy


def test_with_another_mapper_it_stores_as_the_library_does(store_config: StoreConfig) -> None:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        event = next(iter(ledger.events.get(UUID(case_id))))
        stock = Mapper[UUID](transcoder=ledger.mapper.transcoder)
        ours = BatchSealingEventStore(mapper=stock, recorder=ledger.recorder)
        library = EventStore(mapper=stock, recorder=ledger.recorder)
        (mine,) = ours.put([_moved(event, uuid4())])
        (theirs,) = library.put([_moved(event, uuid4())])
        assert theirs.notification.id == mine.notification.id + 1
        assert mine.notification.state == theirs.notification.state  # the stock JSON, unsealed
