"""Erasure at every granularity, and key rotation: what is erased is gone, the rest intact."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ledger import (
    Case,
    CaseLedger,
    ErasureReport,
    IdempotencyKeyReusedError,
    StoreConfig,
    SubjectNotFoundError,
    body_context,
)
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    RECLASSERING,
    World,
    all_bodies,
    bodies,
    build_world,
    case_state,
    event_versions,
    opened,
    record,
)
from tests.opening import open_as_recorded
from tests.softhsm import keyed

Sealed = dict[str, list[tuple[bytes, bytes]]]  # fact id -> (blob, context) per revision


def sealed_bodies(ledger: CaseLedger, w: World) -> Sealed:
    """Every revision's sealed body as it sits in the event store, with its context."""
    sealed: Sealed = {}
    for case_id in (w.case_1, w.case_2):
        for fact in ledger.get_case(case_id).facts.values():
            sealed[fact.fact_id] = [
                (r.sealed_body, body_context(case_id, fact.fact_id, r.case_version))
                for r in fact.revisions
            ]
    return sealed


def assert_erased_exactly(ledger: CaseLedger, e: Erasure, erased: set[str]) -> None:
    """Erased facts are redacted or absent; every other fact opens with its exact body.

    Checked twice: through the case (what readers get) and on the stored ciphertexts
    themselves (their keys must be gone, not merely hidden behind an "erased" flag).
    """
    w = e.world
    found = all_bodies(ledger, w)
    for fact_id in erased:
        assert found.get(fact_id) is None, fact_id
    survivors = w.all_ids - erased
    assert {f: found.get(f) for f in survivors} == {f: w.expected[f] for f in survivors}
    for fact_id in erased:
        for blob, context in e.sealed[fact_id]:
            assert ledger.keys.open_bodies([(blob, context)]) == [None], fact_id
    for fact_id in survivors:
        blob, context = e.sealed[fact_id][-1]
        (raw,) = ledger.keys.open_bodies([(blob, context)])
        assert raw is not None
        assert json.loads(raw) == w.expected[fact_id]


def assert_replay_agrees(
    config: StoreConfig, erasing: CaseLedger, warm: CaseLedger, w: World
) -> None:
    """A fresh instance and one opened before the erasure rebuild the same state."""
    with opened(config) as fresh:
        for case_id in (w.case_1, w.case_2):
            expected_state = case_state(erasing.get_case(case_id))
            assert case_state(fresh.get_case(case_id)) == expected_state
            assert case_state(warm.get_case(case_id)) == expected_state
            assert bodies(fresh, case_id) == bodies(erasing, case_id)
            assert bodies(warm, case_id) == bodies(erasing, case_id)
            assert event_versions(fresh, case_id) == list(range(1, expected_state["version"] + 1))


@dataclass
class Erasure:
    config: StoreConfig
    ledger: CaseLedger
    warm: CaseLedger  # opened before the erasure, with warm caches
    world: World
    versions: dict[str, int]
    sealed: Sealed


@pytest.fixture
def store_config(
    store_config: StoreConfig, kek_provider: str, request: pytest.FixtureRequest
) -> StoreConfig:
    """These key tests run with either provider: the local keyring or a PKCS#11 token."""
    return keyed(store_config, kek_provider, request)


@pytest.fixture
def erasure(store_config: StoreConfig) -> Iterator[Erasure]:
    with opened(store_config) as ledger, opened(store_config) as warm:
        w = build_world(ledger)
        assert all_bodies(warm, w) == w.expected  # warms the second instance's caches
        versions = {c: ledger.get_case(c).version for c in (w.case_1, w.case_2)}
        yield Erasure(store_config, ledger, warm, w, versions, sealed_bodies(ledger, w))


def _last_event(ledger: CaseLedger, case_id: str) -> Any:
    return list(ledger.events.get(uuid.UUID(case_id)))[-1]


class TestEraseFact:
    """Erasing one fact redacts it (all revisions) and nothing else."""

    def test_erase_fact(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        target = w.facts["politie_a"]
        report = e.ledger.erase_fact(PRIVACY_OFFICER, w.case_1, target, ground="art17")
        assert report.scope == "fact"
        assert report.fact_ids == (target,)
        assert len(report.fact_key_ids) == 2  # the original and the correction
        assert report.scope_key_ids == ()
        case = e.ledger.get_case(w.case_1)
        assert case.facts[target].erased
        assert [b.redacted for b in open_as_recorded(e.ledger, case, [target])] == [True]
        assert case.version == e.versions[w.case_1] + 1
        assert isinstance(_last_event(e.ledger, w.case_1), Case.Erased)
        assert_erased_exactly(e.ledger, e, {target})
        assert_erased_exactly(e.warm, e, {target})
        assert_replay_agrees(e.config, e.ledger, e.warm, w)

    def test_retraction_erases_the_fact(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        target = w.facts["reclassering_ab"]
        e.ledger.retract_fact(RECLASSERING, w.case_1, target, reason="recorded in error")
        case = e.ledger.get_case(w.case_1)
        assert case.facts[target].retracted_at is not None
        assert_erased_exactly(e.ledger, e, {target})
        assert_replay_agrees(e.config, e.ledger, e.warm, w)


class TestEraseSubject:
    """Erasing a subject makes every owner's facts about it unreadable, and only those."""

    def test_erase_subject(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        about_a = w.ids("identity_a", "politie_a", "reclassering_a", "reclassering_ab")
        report = e.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        assert set(report.fact_ids) == about_a
        assert len(report.scope_key_ids) == 3  # zvh, politie and reclassering held A keys
        assert set(report.epoch.kek_rotations) == {"zvh", "politie", "reclassering"}
        case = e.ledger.get_case(w.case_1)
        assert w.subject_a not in case.subjects
        assert w.subject_b in case.subjects
        assert case.version == e.versions[w.case_1] + 1
        assert case.redacted_events > 0  # events sealed under A's keys are placeholders now
        assert_erased_exactly(e.ledger, e, about_a)
        assert_erased_exactly(e.warm, e, about_a)
        assert_replay_agrees(e.config, e.ledger, e.warm, w)

    def test_case_keeps_working(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        e.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        with pytest.raises(SubjectNotFoundError):
            record(e.ledger, POLITIE, w.case_1, {"note": "late"}, subjects=[w.subject_a])
        new = record(e.warm, POLITIE, w.case_1, {"note": "new about B"}, subjects=[w.subject_b])
        assert bodies(e.ledger, w.case_1)[new] == {"note": "new about B"}


class TestEraseCase:
    """Erasing a case makes all of its facts unreadable; other cases are untouched."""

    def test_erase_case(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        in_case_1 = {f for f in w.all_ids if f not in w.ids("politie_2", "reclassering_2")}
        report = e.ledger.erase_case(PRIVACY_OFFICER, w.case_1, ground="retention")
        assert set(report.fact_ids) == in_case_1
        case = e.ledger.get_case(w.case_1)  # still loads
        assert case.status == "erased"
        assert case.version == e.versions[w.case_1] + 1
        assert case.redacted_events == e.versions[w.case_1]  # every earlier event
        assert isinstance(_last_event(e.ledger, w.case_1), Case.Erased)
        assert e.ledger.get_case(w.case_2).version == e.versions[w.case_2]
        assert_erased_exactly(e.ledger, e, in_case_1)
        assert_erased_exactly(e.warm, e, in_case_1)
        assert_replay_agrees(e.config, e.ledger, e.warm, w)

    def test_erase_case_after_one_of_its_facts(self, erasure: Erasure) -> None:
        """Fact keys share key-store blocks: the fact erasure rewrites its block, and the case
        erasure then reports the keys still alive, each once, never the one already gone."""
        e, w = erasure, erasure.world
        target = w.facts["politie_a"]
        first = e.ledger.erase_fact(PRIVACY_OFFICER, w.case_1, target, ground="art17")
        assert_erased_exactly(e.warm, e, {target})  # the rest of its block still opens
        in_case_1 = {f for f in w.all_ids if f not in w.ids("politie_2", "reclassering_2")}
        facts = e.ledger.get_case(w.case_1).facts.values()
        alive = {r.fact_key_id for f in facts for r in f.revisions} - set(first.fact_key_ids)
        assert len(alive) >= 5
        report = e.ledger.erase_case(PRIVACY_OFFICER, w.case_1, ground="retention")
        assert set(report.fact_ids) == in_case_1
        assert not set(first.fact_key_ids) & set(report.fact_key_ids)
        assert len(set(report.fact_key_ids)) == len(report.fact_key_ids)
        assert alive <= set(report.fact_key_ids)
        assert_erased_exactly(e.ledger, e, in_case_1)
        assert_erased_exactly(e.warm, e, in_case_1)


class TestEraseOwner:
    """Erasing an owner makes everything it contributed unreadable, in every case."""

    def test_erase_owner(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        by_politie = w.ids("politie_a", "politie_b", "politie_case", "politie_2")
        report = e.ledger.erase_owner(PRIVACY_OFFICER, "politie", ground="partner_left")
        assert set(report.fact_ids) == by_politie
        assert report.epoch.kek_versions_destroyed["politie"] == [1]
        keyring = e.ledger.keys.keyring
        assert keyring.is_retired("politie")
        assert keyring.versions("politie") == []
        for case_id in (w.case_1, w.case_2):
            assert e.ledger.get_case(case_id).version == e.versions[case_id] + 1
        assert_erased_exactly(e.ledger, e, by_politie)
        assert_erased_exactly(e.warm, e, by_politie)
        assert_replay_agrees(e.config, e.ledger, e.warm, w)


class TestIdempotentErasure:
    """An erasure retried with the same idempotency key, here or from another ledger
    instance, returns the first report and records nothing more."""

    def test_retry_returns_the_first_report(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        target = w.facts["politie_a"]
        first = e.ledger.erase_fact(
            PRIVACY_OFFICER, w.case_1, target, ground="art17", idempotency_key="k-1"
        )
        again = e.warm.erase_fact(
            PRIVACY_OFFICER, w.case_1, target, ground="art17", idempotency_key="k-1"
        )
        assert (first.replayed, again.replayed) == (False, True)
        assert dataclasses.replace(again, replayed=False) == first
        assert e.ledger.get_case(w.case_1).version == e.versions[w.case_1] + 1

    def test_owner_erasure_replays_after_its_keys_are_gone(self, erasure: Erasure) -> None:
        e = erasure
        first = e.ledger.erase_owner(
            PRIVACY_OFFICER, "politie", ground="partner_left", idempotency_key="k-owner"
        )
        again = e.ledger.erase_owner(
            PRIVACY_OFFICER, "politie", ground="partner_left", idempotency_key="k-owner"
        )
        assert again.replayed
        assert again.erasure_id == first.erasure_id
        assert again.epoch == first.epoch

    def test_a_key_reused_for_another_erasure_is_refused(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        e.ledger.erase_case(PRIVACY_OFFICER, w.case_2, ground="retention", idempotency_key="k")
        with pytest.raises(IdempotencyKeyReusedError):
            e.ledger.erase_case(PRIVACY_OFFICER, w.case_1, ground="retention", idempotency_key="k")
        assert e.ledger.get_case(w.case_1).status != "erased"


class TestErasureReachesOtherProcesses:
    """A ledger that loaded a case before another process erased from it opens nothing erased."""

    @pytest.mark.parametrize("scope", ["fact", "subject", "case"])
    def test_case_object_held_across_an_erasure(self, erasure: Erasure, scope: str) -> None:
        e, w = erasure, erasure.world
        held = e.warm.get_case(w.case_1)  # loaded, bodies opened: caches are warm
        target = w.facts["politie_a"]
        assert [b.body for b in open_as_recorded(e.warm, held, [target])] == [w.expected[target]]
        if scope == "fact":
            e.ledger.erase_fact(PRIVACY_OFFICER, w.case_1, target, ground="art17")
        elif scope == "subject":
            e.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        else:
            e.ledger.erase_case(PRIVACY_OFFICER, w.case_1, ground="retention")
        assert [b.body for b in open_as_recorded(e.warm, held, [target])] == [None]


class TestRotateKeys:
    """A KEK rotation epoch keeps every fact readable and destroys the old KEK version."""

    def test_rotate(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        keyring = e.ledger.keys.keyring
        assert keyring.versions("politie") == [1]
        report = e.ledger.rotate_keys(["politie"])
        assert report.kek_rotations == {"politie": 2}
        assert report.kek_versions_destroyed == {"politie": [1]}
        assert report.scope_keys_rewrapped > 0
        assert keyring.versions("politie") == [2]
        assert keyring.versions("reclassering") == [1]
        with e.ledger.keys.store.transaction(write=False) as tx:
            kek_versions = {
                int(r[0])
                for r in tx.execute(
                    "SELECT DISTINCT kek_version FROM scope_keys WHERE owner = ?", ("politie",)
                )
            }
        assert kek_versions == {2}
        assert all_bodies(e.ledger, w) == w.expected
        assert all_bodies(e.warm, w) == w.expected
        with opened(e.config) as fresh:
            assert all_bodies(fresh, w) == w.expected
            # New facts after the rotation seal under the new version and open too.
            new = record(fresh, POLITIE, w.case_1, {"note": "after rotation"})
            assert bodies(e.ledger, w.case_1)[new] == {"note": "after rotation"}


def _report_is_ids_only(report: ErasureReport, w: World) -> None:
    text = repr(report)
    for body in w.expected.values():
        for value in body.values():
            assert str(value) not in text


class TestReportsCarryIdsOnly:
    """Erasure reports hold ids and counts, never content."""

    def test_report(self, erasure: Erasure) -> None:
        e, w = erasure, erasure.world
        report = e.ledger.erase_subject(PRIVACY_OFFICER, w.case_1, w.subject_a, ground="art17")
        _report_is_ids_only(report, w)
