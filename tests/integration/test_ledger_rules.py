"""Ownership and participation rules: each violation raises its typed error and stores nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ledger import (
    CaseClosedError,
    CaseLedger,
    CaseNotFoundError,
    CaseStatusError,
    ConcurrencyConflictError,
    FactNotFoundError,
    InvalidCommandError,
    InvariantViolationError,
    LedgerError,
    NewFact,
    NotOwnerError,
    NotParticipantError,
    StoreConfig,
    SubjectNotFoundError,
)
from tests.integration._ledger_support import (
    GEMEENTE,
    POLITIE,
    PURPOSE,
    RECLASSERING,
    REGIE,
    add_subject,
    open_active_case,
    opened,
    readable,
    record,
    stored_event_count,
)


@dataclass
class World:
    ledger: CaseLedger
    case_id: str
    subject: str
    politie_fact: str


@pytest.fixture
def world(store_config: StoreConfig) -> Iterator[World]:
    with opened(store_config) as ledger:
        case_id = open_active_case(ledger)
        subject = add_subject(ledger, case_id)
        fact = record(ledger, POLITIE, case_id, {"note": "invented"}, subjects=[subject])
        yield World(ledger, case_id, subject, fact)


def _fact(w: World, who: Any = POLITIE, **kwargs: Any) -> Any:
    arguments: dict[str, Any] = {
        "kind": "observation",
        "subjects": [w.subject],
        "categories": ["housing"],
        "purpose": PURPOSE,
        "legal_basis": "wgs",
        "sharing_level": "participants",
        "body": {"note": "refused"},
    }
    arguments.update(kwargs)
    return w.ledger.record_fact(who, w.case_id, **arguments)


def _refused(w: World, error: type[LedgerError], command: Callable[[], object]) -> None:
    """The command raises exactly ``error`` and neither events nor keys are stored."""
    events_before = stored_event_count(w.ledger)
    keys_before = w.ledger.keys.store.count_keys()
    version_before = w.ledger.get_case(w.case_id).version
    with pytest.raises(error) as raised:
        command()
    assert type(raised.value) is error
    assert stored_event_count(w.ledger) == events_before
    assert w.ledger.keys.store.count_keys() == keys_before
    assert w.ledger.get_case(w.case_id).version == version_before


class TestParticipation:
    """Only active participants contribute facts, subjects and consents."""

    def test_non_participant_cannot_record(self, world: World) -> None:
        _refused(world, NotParticipantError, lambda: _fact(world, GEMEENTE))

    def test_removed_participant_cannot_record(self, world: World) -> None:
        world.ledger.remove_participant(REGIE, world.case_id, org="reclassering")
        _refused(world, NotParticipantError, lambda: _fact(world, RECLASSERING))

    def test_removed_owner_cannot_correct(self, world: World) -> None:
        world.ledger.remove_participant(REGIE, world.case_id, org="politie")
        _refused(
            world,
            NotParticipantError,
            lambda: world.ledger.correct_fact(
                POLITIE, world.case_id, world.politie_fact, body={"note": "late"}
            ),
        )

    def test_non_participant_cannot_add_subject(self, world: World) -> None:
        _refused(
            world,
            NotParticipantError,
            lambda: world.ledger.add_subject(GEMEENTE, world.case_id, case_role="client"),
        )

    def test_non_participant_cannot_record_consent(self, world: World) -> None:
        _refused(
            world,
            NotParticipantError,
            lambda: world.ledger.record_consent(
                GEMEENTE,
                world.case_id,
                subject=world.subject,
                purpose=PURPOSE,
                categories=["housing"],
                recipients=["politie"],
            ),
        )

    def test_removing_a_non_participant(self, world: World) -> None:
        _refused(
            world,
            NotParticipantError,
            lambda: world.ledger.remove_participant(REGIE, world.case_id, org="gemeente"),
        )

    def test_inviting_a_participant_twice(self, world: World) -> None:
        """Asking for what already holds stores nothing and says so (issue 18, item 9)."""
        events_before = stored_event_count(world.ledger)
        version = world.ledger.get_case(world.case_id).version
        result = world.ledger.invite_participant(REGIE, world.case_id, org="reclassering")
        assert result.unchanged
        assert result.version == version
        assert stored_event_count(world.ledger) == events_before

    def test_setting_the_phase_it_has(self, world: World) -> None:
        phase = world.ledger.get_case(world.case_id).phase
        events_before = stored_event_count(world.ledger)
        result = world.ledger.change_phase(REGIE, world.case_id, phase=phase, reason="same")
        assert result.unchanged
        assert stored_event_count(world.ledger) == events_before

    def test_action_for_a_non_participant(self, world: World) -> None:
        _refused(
            world,
            NotParticipantError,
            lambda: world.ledger.agree_action(
                REGIE, world.case_id, assignee="gemeente", what="visit", due="2026-12-01"
            ),
        )


class TestOwnership:
    """Only the partner that recorded a fact corrects or retracts it."""

    def test_other_partner_cannot_correct(self, world: World) -> None:
        _refused(
            world,
            NotOwnerError,
            lambda: world.ledger.correct_fact(
                RECLASSERING, world.case_id, world.politie_fact, body={"note": "hijack"}
            ),
        )
        assert readable(world.ledger, world.case_id)[world.politie_fact] == {"note": "invented"}

    def test_other_partner_cannot_retract(self, world: World) -> None:
        _refused(
            world,
            NotOwnerError,
            lambda: world.ledger.retract_fact(RECLASSERING, world.case_id, world.politie_fact),
        )
        assert readable(world.ledger, world.case_id)[world.politie_fact] == {"note": "invented"}

    def test_the_regisseur_is_not_the_owner_either(self, world: World) -> None:
        _refused(
            world,
            NotOwnerError,
            lambda: world.ledger.retract_fact(REGIE, world.case_id, world.politie_fact),
        )

    def test_owner_cannot_correct_a_retracted_fact(self, world: World) -> None:
        world.ledger.retract_fact(POLITIE, world.case_id, world.politie_fact, reason="mistake")
        _refused(
            world,
            CaseStatusError,
            lambda: world.ledger.correct_fact(
                POLITIE, world.case_id, world.politie_fact, body={"note": "again"}
            ),
        )

    def test_unknown_fact(self, world: World) -> None:
        _refused(
            world,
            FactNotFoundError,
            lambda: world.ledger.correct_fact(POLITIE, world.case_id, "f" * 32, body={}),
        )

    def test_the_owner_is_the_caller_not_the_body(self, world: World) -> None:
        fact = record(world.ledger, RECLASSERING, world.case_id, {"owner": "politie"})
        assert world.ledger.get_case(world.case_id).facts[fact].owner == "reclassering"


class TestCaseStatus:
    """Closed and rejected cases accept no facts; commands must fit the case's status."""

    def test_record_in_closed_case(self, world: World) -> None:
        world.ledger.close_case(REGIE, world.case_id, reason="done")
        _refused(world, CaseClosedError, lambda: _fact(world))

    def test_correct_in_closed_case(self, world: World) -> None:
        world.ledger.close_case(REGIE, world.case_id, reason="done")
        _refused(
            world,
            CaseClosedError,
            lambda: world.ledger.correct_fact(
                POLITIE, world.case_id, world.politie_fact, body={"note": "late"}
            ),
        )

    def test_add_subject_in_closed_case(self, world: World) -> None:
        world.ledger.close_case(REGIE, world.case_id, reason="done")
        _refused(
            world,
            CaseClosedError,
            lambda: world.ledger.add_subject(REGIE, world.case_id, case_role="client"),
        )

    def test_record_in_rejected_case(self, store_config: StoreConfig) -> None:
        with opened(store_config) as ledger:
            case_id = ledger.open_case(
                REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=2
            ).case_id
            subject = add_subject(ledger, case_id)
            ledger.triage(REGIE, case_id, decision="reject", reason="no grounds")
            w = World(ledger, case_id, subject, "")
            _refused(w, CaseClosedError, lambda: _fact(w))

    def test_triage_twice(self, world: World) -> None:
        _refused(
            world,
            CaseStatusError,
            lambda: world.ledger.triage(REGIE, world.case_id, decision="reject", reason="x"),
        )

    def test_close_twice(self, world: World) -> None:
        world.ledger.close_case(REGIE, world.case_id)
        _refused(world, CaseStatusError, lambda: world.ledger.close_case(REGIE, world.case_id))

    def test_phase_change_in_closed_case(self, world: World) -> None:
        world.ledger.close_case(REGIE, world.case_id)
        _refused(
            world,
            CaseStatusError,
            lambda: world.ledger.change_phase(REGIE, world.case_id, phase=2, reason="x"),
        )


class TestInvalidCommands:
    """Bad arguments are refused with a typed error before anything is stored."""

    def test_unknown_subject(self, world: World) -> None:
        _refused(world, SubjectNotFoundError, lambda: _fact(world, subjects=["0" * 32]))

    def test_subject_of_another_case(self, world: World) -> None:
        other_case = open_active_case(world.ledger)
        other_subject = add_subject(world.ledger, other_case)
        _refused(world, SubjectNotFoundError, lambda: _fact(world, subjects=[other_subject]))

    @pytest.mark.parametrize("phase", [0, 5])
    def test_bad_phase_on_change(self, world: World, phase: int) -> None:
        _refused(
            world,
            InvalidCommandError,
            lambda: world.ledger.change_phase(REGIE, world.case_id, phase=phase, reason="x"),
        )

    def test_bad_phase_on_open(self, world: World) -> None:
        _refused(
            world,
            InvalidCommandError,
            lambda: world.ledger.open_case(
                REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=7
            ),
        )

    @pytest.mark.parametrize("level", ["everyone", "OWNER"])
    def test_bad_sharing_level(self, world: World, level: str) -> None:
        _refused(world, InvalidCommandError, lambda: _fact(world, sharing_level=level))

    def test_body_that_is_not_json(self, world: World) -> None:
        _refused(world, InvalidCommandError, lambda: _fact(world, body={"when": object()}))
        _refused(world, InvalidCommandError, lambda: _fact(world, body={"x": float("nan")}))

    def test_bad_triage_decision(self, store_config: StoreConfig) -> None:
        with opened(store_config) as ledger:
            case_id = ledger.open_case(
                REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=1
            ).case_id
            w = World(ledger, case_id, "", "")
            _refused(
                w,
                InvalidCommandError,
                lambda: ledger.triage(REGIE, case_id, decision="maybe", reason="x"),
            )

    def test_deferral_without_review_date(self, world: World) -> None:
        _refused(
            world,
            InvalidCommandError,
            lambda: world.ledger.decide_notification(
                REGIE, world.case_id, decision="defer", reason="risk"
            ),
        )

    def test_unknown_case(self, world: World) -> None:
        for case_id in ("0" * 32, "not-a-case"):
            with pytest.raises(CaseNotFoundError):
                world.ledger.record_fact(
                    POLITIE,
                    case_id,
                    kind="observation",
                    subjects=[],
                    categories=[],
                    purpose=PURPOSE,
                    legal_basis="wgs",
                    sharing_level="owner",
                    body={},
                )

    def test_stale_expected_version(self, world: World) -> None:
        stale = world.ledger.get_case(world.case_id).version
        record(world.ledger, POLITIE, world.case_id, {"note": "newer"})
        _refused(world, ConcurrencyConflictError, lambda: _fact(world, expected_version=stale))


class TestErrorTree:
    """Every rule violation is an InvariantViolationError (and a ValueError)."""

    def test_tree(self) -> None:
        for error in (
            NotParticipantError,
            NotOwnerError,
            CaseClosedError,
            CaseStatusError,
            InvalidCommandError,
        ):
            assert issubclass(error, InvariantViolationError)
            assert issubclass(error, ValueError)
        assert issubclass(SubjectNotFoundError, LookupError)


def _identity(**changes: Any) -> NewFact:
    fact = NewFact(
        "observation", (), ("identity",), PURPOSE, "wgs", "participants", (),
        {"name": "Invented Person"},
    )  # fmt: skip
    return dataclasses.replace(fact, **changes)


class TestSubjectWithIdentity:
    """A subject and its identity fact are stored together or not at all."""

    def test_one_transaction_two_events(self, world: World) -> None:
        before = world.ledger.get_case(world.case_id).version
        result = world.ledger.add_subject(
            POLITIE, world.case_id, case_role="victim", identity=_identity()
        )
        assert result.created_id is not None
        subject_id, fact_id = result.created_id.split(",")
        case = world.ledger.get_case(world.case_id)
        assert result.version == case.version == before + 2
        assert subject_id in case.subjects
        fact = case.get_fact(fact_id)
        assert (fact.owner, tuple(fact.subjects)) == ("politie", (subject_id,))
        assert readable(world.ledger, world.case_id)[fact_id] == {"name": "Invented Person"}

    def test_a_refused_identity_stores_no_subject(self, world: World) -> None:
        _refused(
            world,
            InvalidCommandError,
            lambda: world.ledger.add_subject(
                POLITIE,
                world.case_id,
                case_role="victim",
                identity=_identity(sharing_level="everyone"),
            ),
        )

    def test_a_retry_returns_the_same_subject_and_fact(self, world: World) -> None:
        def add() -> str | None:
            return world.ledger.add_subject(
                POLITIE,
                world.case_id,
                case_role="victim",
                identity=_identity(),
                idempotency_key="subject-1",
            ).created_id

        assert add() == add()
        assert len(world.ledger.get_case(world.case_id).subjects) == 2
