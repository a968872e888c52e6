"""SC1 through the read service (no HTTP): who sees which facts, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import StoreConfig
from projections import CaseOverview, ReadDeniedError
from tests.integration.read_helpers import (
    ACTION_TEXTS,
    SC1,
    SC1_READERS,
    STORE_PARAMS,
    Reader,
    ReadStack,
    open_stack,
    record_sc1_with_canaries,
    rendered,
    temporary_stores,
)

ALL = frozenset(
    {"referral", "identity", "diagnosis", "arrests", "rent arrears", "shared starting point"}
)
SHARED = frozenset({"identity", "rent arrears", "shared starting point"})
# docs/domain.md SC1 and the need-to-know table: the facts each reader is shown (None: the case
# itself is denied) and whether their bodies are opened.
EXPECTED: dict[str, tuple[frozenset[str] | None, bool]] = {
    "procesregisseur": (SHARED | {"referral"}, True),
    "melder_politie": (SHARED | {"referral", "arrests"}, True),
    "reclassering": (SHARED | {"diagnosis", "arrests"}, True),
    "ggz": (SHARED | {"diagnosis"}, True),
    "woningcorporatie": (SHARED, True),
    "clerk": (frozenset(), False),
    "privacy_officer": (ALL, False),
    "gemeente": (None, False),
}
READERS = {r.name: r for r in SC1_READERS}


@pytest.fixture(scope="module", params=STORE_PARAMS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ReadStack, SC1]]:
    """SC1 recorded once per store for the read-only tests of this module."""
    with temporary_stores(request.param, tmp_path_factory.mktemp("sc1")) as config:
        stack = open_stack(config)
        try:
            yield stack, record_sc1_with_canaries(stack.ledger)
        finally:
            stack.close()


@pytest.fixture
def stack(world: tuple[ReadStack, SC1]) -> ReadStack:
    return world[0]


@pytest.fixture
def sc1(world: tuple[ReadStack, SC1]) -> SC1:
    return world[1]


@pytest.fixture
def fresh(store_config: StoreConfig) -> Iterator[tuple[ReadStack, SC1]]:
    """SC1 on fresh stores (for tests that count access-log entries)."""
    stack = open_stack(store_config)
    try:
        yield stack, record_sc1_with_canaries(stack.ledger)
    finally:
        stack.close()


def overview(stack: ReadStack, reader: Reader, sc1: SC1) -> CaseOverview:
    return stack.reads.case_overview(reader.request(), sc1.case_id)


class TestSC1VisibleFacts:
    """Each SC1 reader gets exactly the facts the covenant admits, with bodies only where
    content may be disclosed; a non-participant gets a not-found."""

    @pytest.mark.parametrize("name", [n for n, (seen, _) in EXPECTED.items() if seen is not None])
    def test_exact_visible_facts(self, stack: ReadStack, sc1: SC1, name: str) -> None:
        seen, with_bodies = EXPECTED[name]
        assert seen is not None

        view = overview(stack, READERS[name], sc1)

        assert {sc1.labels[f.fact_id] for f in view.facts} == seen
        assert len(view.facts) == len(seen)
        assert view.withheld == len(ALL) - len(seen)
        assert {f.has_body for f in view.facts} <= {with_bodies}
        for fact in view.facts:
            assert (fact.body is not None) is with_bodies
        assert view.case_id == sc1.case_id
        assert view.status == "active"
        assert view.phase == 3

    @pytest.mark.parametrize("name", [n for n, (seen, _) in EXPECTED.items() if seen])
    def test_bodies_are_the_recorded_ones(self, stack: ReadStack, sc1: SC1, name: str) -> None:
        view = overview(stack, READERS[name], sc1)

        for fact in view.facts:
            if fact.has_body:
                assert fact.body is not None
                assert set(sc1.canaries[fact.fact_id]) <= set(map(str, fact.body.values()))

    def test_non_participant_gets_not_found(self, stack: ReadStack, sc1: SC1) -> None:
        request = READERS["gemeente"].request()

        with pytest.raises(ReadDeniedError):
            stack.reads.case_overview(request, sc1.case_id)
        with pytest.raises(ReadDeniedError):
            stack.reads.action_list(request, sc1.case_id)
        assert stack.reads.list_cases(request) == []

    def test_privacy_officer_sees_metadata_of_everything(self, stack: ReadStack, sc1: SC1) -> None:
        view = overview(stack, READERS["privacy_officer"], sc1)

        assert {(f.fact_id, f.owner, f.kind) for f in view.facts} == {
            (fid, who.principal.partner, stack.ledger.get_case(sc1.case_id).facts[fid].kind)
            for fid, (who, _) in sc1.scenario.facts.items()
        }
        assert all(a.what is None for a in view.actions)
        assert view.notification is not None
        assert view.notification["reason"] is None


class TestSC1ActionList:
    """The action list (with its texts) reaches every active participant and the clerk; the
    privacy officer gets it without texts; a non-participant gets nothing."""

    @pytest.mark.parametrize(
        "name",
        ["procesregisseur", "melder_politie", "reclassering", "ggz", "woningcorporatie", "clerk"],
    )
    def test_participants_and_clerk_see_action_texts(
        self, stack: ReadStack, sc1: SC1, name: str
    ) -> None:
        request = READERS[name].request()

        _, actions = stack.reads.action_list(request, sc1.case_id)
        view = stack.reads.case_overview(request, sc1.case_id)

        assert sorted(a.what for a in actions) == sorted(ACTION_TEXTS)
        assert sorted(a.what for a in view.actions) == sorted(ACTION_TEXTS)
        assert {a.assignee for a in actions} == {"woningcorporatie", "ggz"}

    def test_privacy_officer_gets_actions_without_text(self, stack: ReadStack, sc1: SC1) -> None:
        _, actions = stack.reads.action_list(READERS["privacy_officer"].request(), sc1.case_id)

        assert len(actions) == 2
        assert [a.what for a in actions] == [None, None]


class TestSC1Canaries:
    """No string of a fact's body reaches a reader the policy denies that fact, anywhere in
    what the read service returns (views, action lists, case lists, errors)."""

    @pytest.mark.parametrize("name", list(EXPECTED))
    def test_canaries_only_reach_admitted_readers(
        self, stack: ReadStack, sc1: SC1, name: str
    ) -> None:
        seen, with_bodies = EXPECTED[name]
        reader = READERS[name]
        request = reader.request()
        returned: list[object] = [stack.reads.list_cases(request)]
        for view in (stack.reads.case_overview, stack.reads.action_list):
            try:
                returned.append(view(request, sc1.case_id))
            except ReadDeniedError as error:
                returned.append(error)
                returned.append(str(error))
        text = "\n".join(rendered(obj) for obj in returned)

        admitted = {f for f, label in sc1.labels.items() if with_bodies and label in (seen or ())}
        for fact_id, canaries in sc1.canaries.items():
            for canary in canaries:
                if fact_id in admitted:
                    assert canary in text, (name, sc1.labels[fact_id])  # the search works
                else:
                    assert canary not in text, (name, sc1.labels[fact_id])

    def test_no_reader_gets_a_canary_it_may_not_see(self, stack: ReadStack, sc1: SC1) -> None:
        """All readers one after another (shared caches must not leak between callers)."""
        for name, (seen, with_bodies) in EXPECTED.items():
            try:
                text = rendered(overview(stack, READERS[name], sc1))
            except ReadDeniedError as error:
                text = repr(error)
            for fact_id, canaries in sc1.canaries.items():
                if with_bodies and sc1.labels[fact_id] in (seen or ()):
                    continue
                leaked = [c for c in canaries if c in text]
                assert leaked == [], (name, sc1.labels[fact_id])


class TestSC1ReadsAreLogged:
    """Every SC1 read, denied ones included, is in the access log with the subject as a
    pseudonym, and the log's allowed facts are exactly what each reader was shown."""

    def test_log_matches_what_was_shown(self, fresh: tuple[ReadStack, SC1]) -> None:
        stack, sc1 = fresh
        shown: dict[str, set[str]] = {}
        for name, (seen, _) in EXPECTED.items():
            if seen is None:
                with pytest.raises(ReadDeniedError):
                    overview(stack, READERS[name], sc1)
                continue
            shown[READERS[name].who.principal.user] = {
                f.fact_id for f in overview(stack, READERS[name], sc1).facts
            }
        log = stack.access_log
        about_m = log.entries(subject=log.pseudonym(sc1.subject_id))

        logged: dict[str, set[str]] = {user: set() for user in shown}
        for entry in about_m:
            if entry.decision == "allowed":
                logged[entry.actor].update(entry.fact_ids)
        assert logged == shown
        assert log.verify().ok

    def test_denied_attempt_is_logged_without_the_subject_id(
        self, fresh: tuple[ReadStack, SC1]
    ) -> None:
        stack, sc1 = fresh
        gemeente = READERS["gemeente"]
        with pytest.raises(ReadDeniedError):
            overview(stack, gemeente, sc1)

        entries = stack.access_log.entries(actor=gemeente.who.principal.user)
        assert [(e.decision, e.case_id, e.org) for e in entries] == [
            ("denied", sc1.case_id, "gemeente")
        ]
        assert entries[0].reason
        for entry in stack.access_log.entries():
            assert sc1.subject_id not in repr(entry)
