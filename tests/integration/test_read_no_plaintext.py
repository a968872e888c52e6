"""No plaintext in the projections or the access log, whatever was read and erased."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.read_helpers import (
    PROCESS_TEXTS,
    STORE_PARAMS,
    History,
    ReadStack,
    all_stored_bytes,
    count_needles,
    open_stack,
    read_as_everyone,
    record_history,
    rendered,
    stored_bytes,
    temporary_stores,
)


@pytest.fixture(scope="module", params=STORE_PARAMS)
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ReadStack, History, list[str]]]:
    """SC1 plus corrections, erasures of a fact, a subject and a case; every SC1 reader
    reads every view of both cases before and after the erasures and after a rebuild."""
    with temporary_stores(request.param, tmp_path_factory.mktemp("plain")) as config:
        stack = open_stack(config)
        try:
            history = record_history(stack.ledger, stack.runner.catch_up)
            cases = [history.sc1.case_id, history.second_case]
            returned = read_as_everyone(stack.reads, cases)
            stack.runner.rebuild()
            returned += read_as_everyone(stack.reads, cases)
            yield stack, history, [rendered(r) for r in returned]
        finally:
            stack.close()


def needles(history: History) -> list[str]:
    """Every plaintext the scenario recorded: fact bodies, action texts and reasons."""
    return [*history.sc1.all_canaries(), *history.canaries, *PROCESS_TEXTS]


class TestNoPlaintextAtRest:
    """After the full scenario the canaries occur zero times in the projection store, the
    audit store (files with their WAL, or a pg_dump of their schemas) and the access log."""

    def test_projection_store_holds_no_plaintext(
        self, scenario: tuple[ReadStack, History, list[str]]
    ) -> None:
        stack, history, _ = scenario

        blobs = stored_bytes(stack.config, views=True, audit=False)

        assert count_needles(blobs, needles(history)) == {}
        # The scan does see the store's content: fact ids and the subject's pseudonymous id.
        assert count_needles(blobs, [history.sc1.fact_id("identity"), history.sc1.subject_id])

    def test_audit_store_holds_no_plaintext_and_no_subject_ids(
        self, scenario: tuple[ReadStack, History, list[str]]
    ) -> None:
        stack, history, _ = scenario
        sc1 = history.sc1

        blobs = stored_bytes(stack.config, views=False, audit=True)

        assert count_needles(blobs, needles(history)) == {}
        assert count_needles(blobs, [sc1.subject_id, history.second_subject]) == {}
        assert count_needles(blobs, [stack.access_log.pseudonym(sc1.subject_id)])

    def test_access_log_entries_hold_no_plaintext(
        self, scenario: tuple[ReadStack, History, list[str]]
    ) -> None:
        stack, history, _ = scenario
        entries = stack.access_log.entries(limit=1_000_000)
        text = "\n".join(repr(e) for e in entries)

        assert len(entries) > 100
        assert [n for n in needles(history) if n in text] == []
        assert history.sc1.subject_id not in text
        assert stack.access_log.verify().ok

    def test_no_store_of_the_deployment_holds_plaintext(
        self, scenario: tuple[ReadStack, History, list[str]]
    ) -> None:
        """Events, key store, keyring and every schema too (sealed or shredded)."""
        stack, history, _ = scenario

        assert count_needles(all_stored_bytes(stack.config), needles(history)) == {}

    def test_the_canaries_were_shown_to_admitted_readers(
        self, scenario: tuple[ReadStack, History, list[str]]
    ) -> None:
        """A positive control: the needles are real plaintexts the read path did reveal."""
        _, history, returned = scenario
        text = "\n".join(returned)

        sc1 = history.sc1
        for label in ("referral", "identity", "diagnosis", "shared starting point"):
            assert all(c in text for c in sc1.canaries[sc1.fact_id(label)]), label
        # Erased and retracted content never comes back, to anyone.
        assert [c for c in sc1.canaries[sc1.fact_id("arrests")] if c in text] == []
        assert [c for c in history.canaries if c in text] == [history.canaries[1]]
