"""The shared starting point through the read service (no HTTP), on SQLite and PostgreSQL:
pictures per sharing level, the goal for every participant, supersession, erasure and
retraction, the clerk, and the access log written before anything is revealed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledger import AccessLogUnavailableError, NewFact, RequestContext, StoreConfig
from projections import ReadDeniedError, ReadRefusedError, ReadRequest, StartingPointView
from tests.integration.read_helpers import (
    MUNICIPALITY,
    PRIVACY_OFFICER,
    CallCounter,
    ReadStack,
    open_stack,
)
from tests.integration.sc1_ledger import (
    CLERK,
    HOUSING,
    MENTAL_HEALTH,
    POLICE,
    PROBATION,
    PURPOSE,
    REGIE,
)

SP = "shared_starting_point"


@dataclass
class World:
    stack: ReadStack
    case_id: str
    subject_id: str
    bodies: dict[str, Any] = field(default_factory=dict)  # fact id -> body

    def picture(
        self,
        who: RequestContext,
        text: str,
        *,
        level: str = "participants",
        partners: tuple[str, ...] = (),
        subjects: tuple[str, ...] = (),
    ) -> str:
        body: dict[str, Any] = (
            {"goal": text}
            if who.principal.partner == "zvh"
            else {"picture": text, "chances": [f"{text} chance"], "threats": [f"{text} threat"]}
        )
        fact_id = self.stack.ledger.record_fact(
            who,
            self.case_id,
            kind=SP,
            subjects=list(subjects),
            categories=["plan"],
            purpose=PURPOSE,
            legal_basis="wgs",
            sharing_level=level,
            sharing_partners=list(partners),
            body=body,
        ).created_id
        assert fact_id is not None
        self.bodies[fact_id] = body
        return fact_id

    def read(self, who: RequestContext, purpose: str = PURPOSE) -> StartingPointView:
        request = ReadRequest(who.principal, purpose, trace_id="trace-sp")
        return self.stack.reads.starting_point(request, self.case_id)


@pytest.fixture
def world(store_config: StoreConfig) -> Iterator[World]:
    stack = open_stack(store_config)
    ledger = stack.ledger
    try:
        case_id = ledger.open_case(
            REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=3
        ).case_id
        ledger.triage(REGIE, case_id, decision="accept", reason="invented reason")
        subject_id = ledger.add_subject(REGIE, case_id, case_role="client").created_id
        assert subject_id is not None
        for org in ("reclassering", "ggz", "woningcorporatie"):
            ledger.invite_participant(REGIE, case_id, org=org)
        yield World(stack, case_id, subject_id)
    finally:
        stack.close()


def pictures(view: StartingPointView) -> dict[str, str]:
    return {p.owner: p.fact_id for p in view.pictures}


class TestStartingPointReads:
    def test_each_partner_sees_what_sharing_admits_and_everyone_the_goal(
        self, world: World
    ) -> None:
        ggz = world.picture(MENTAL_HEALTH, "ggz view", level="partners", partners=("reclassering",))
        corp = world.picture(HOUSING, "corp view")
        police = world.picture(POLICE, "police view", level="regie")
        goal = world.picture(REGIE, "stable housing")

        housing = world.read(HOUSING)
        assert pictures(housing) == {"woningcorporatie": corp}
        assert housing.withheld == 2
        assert housing.withheld_by_reason == {"not_shared": 2}
        assert housing.goal is not None
        assert housing.goal.fact_id == goal
        assert housing.goal.body == world.bodies[goal]
        assert housing.pictures[0].body == world.bodies[corp]

        probation = world.read(PROBATION)
        assert pictures(probation) == {"ggz": ggz, "woningcorporatie": corp}
        assert probation.goal is not None

        director = world.read(REGIE)  # regie: the procesregisseur
        assert pictures(director) == {"politie": police, "woningcorporatie": corp}
        assert director.goal is not None
        for reader in (MENTAL_HEALTH, POLICE):
            view = world.read(reader)
            assert view.goal is not None
            assert view.goal.body == world.bodies[goal]

    def test_the_latest_picture_and_goal_supersede(self, world: World) -> None:
        world.picture(HOUSING, "first")
        second = world.picture(HOUSING, "second")
        world.picture(REGIE, "goal one")
        goal_two = world.picture(REGIE, "goal two")
        view = world.read(MENTAL_HEALTH)
        assert pictures(view) == {"woningcorporatie": second}
        assert view.goal is not None
        assert view.goal.fact_id == goal_two
        assert "first" not in repr(view)
        assert "goal one" not in repr(view)

    def test_supersession_within_one_command_follows_recording_order(self, world: World) -> None:
        facts = [
            NewFact(SP, (), ("plan",), PURPOSE, "wgs", "participants", (), {"picture": text})
            for text in ("batch one", "batch two", "batch three")
        ]
        created = world.stack.ledger.record_facts(HOUSING, world.case_id, facts).created_id
        assert created is not None
        last = created.split(",")[-1]
        view = world.read(PROBATION)
        assert pictures(view) == {"woningcorporatie": last}
        assert view.pictures[0].body == {"picture": "batch three"}

    def test_a_narrower_newer_picture_withholds_rather_than_reviving_the_old(
        self, world: World
    ) -> None:
        world.picture(HOUSING, "for all")
        world.picture(HOUSING, "for ggz only", level="partners", partners=("ggz",))
        view = world.read(PROBATION)
        assert pictures(view) == {}
        assert view.withheld == 1
        assert "for all" not in repr(view)

    def test_retracted_and_erased_pictures_vanish(self, world: World) -> None:
        older = world.picture(HOUSING, "older")
        newer = world.picture(HOUSING, "newer")
        world.stack.ledger.retract_fact(HOUSING, world.case_id, newer, reason="invented")
        view = world.read(MENTAL_HEALTH)
        assert pictures(view) == {"woningcorporatie": older}
        assert view.withheld == 0

        about = world.picture(MENTAL_HEALTH, "about the client", subjects=(world.subject_id,))
        assert pictures(world.read(PROBATION))["ggz"] == about
        world.stack.ledger.erase_subject(
            PRIVACY_OFFICER, world.case_id, world.subject_id, ground="art17_request"
        )
        view = world.read(PROBATION)
        assert "ggz" not in pictures(view)
        assert view.withheld == 0
        assert "about the client" not in repr(view)

    def test_the_clerk_gets_no_content_and_outsiders_no_case(self, world: World) -> None:
        world.picture(HOUSING, "corp")
        world.picture(REGIE, "goal")
        log = world.stack.access_log
        before = len(log.entries(limit=10_000))
        with pytest.raises(ReadRefusedError) as refused:
            world.read(CLERK)
        assert str(refused.value.decision.reason) == "role_excludes_facts"
        with pytest.raises(ReadDeniedError):
            world.read(MUNICIPALITY)
        entries = log.entries(after=0, limit=10_000)[before:]
        assert [(e.decision, e.reason) for e in entries] == [
            ("denied", "role_excludes_facts"),
            ("denied", "not_participant"),
        ]

    def test_the_privacy_officer_sees_metadata_only(self, world: World) -> None:
        corp = world.picture(HOUSING, "corp")
        goal = world.picture(REGIE, "goal")
        view = world.read(PRIVACY_OFFICER, "accountability")
        assert pictures(view) == {"woningcorporatie": corp}
        assert view.goal is not None
        assert view.goal.fact_id == goal
        assert all(f.body is None for f in (*view.pictures, view.goal))

    def test_logged_before_reveal(self, world: World) -> None:
        corp = world.picture(HOUSING, "corp")
        goal = world.picture(REGIE, "goal")
        log = world.stack.access_log
        before = len(log.entries(after=0, limit=10_000))
        world.read(MENTAL_HEALTH)
        entries = log.entries(after=0, limit=10_000)[before:]
        assert {fid for e in entries for fid in e.fact_ids} == {corp, goal}
        assert all(e.decision == "allowed" for e in entries)

        def refuse(*_: object, **__: object) -> None:
            raise AccessLogUnavailableError("invented outage")

        opened = CallCounter(world.stack.ledger.open_bodies)
        world.stack.ledger.open_bodies = opened  # type: ignore[method-assign]
        original = log.append
        log.append = refuse  # type: ignore[method-assign]
        try:
            with pytest.raises(AccessLogUnavailableError):
                world.read(MENTAL_HEALTH)
        finally:
            log.append = original  # type: ignore[method-assign]
        assert opened.calls == 0  # nothing was opened: the log comes first
        world.read(MENTAL_HEALTH)
        assert opened.calls == 1

    def test_the_case_view_names_the_current_starting_point(self, world: World) -> None:
        world.picture(HOUSING, "old")
        corp = world.picture(HOUSING, "new")
        goal = world.picture(REGIE, "goal")
        request = ReadRequest(MENTAL_HEALTH.principal, PURPOSE)
        overview = world.stack.reads.case_overview(request, world.case_id)
        assert overview.starting_point == {
            "pictures": [{"owner": "woningcorporatie", "fact_id": corp}],
            "goal": {"fact_id": goal},
        }
