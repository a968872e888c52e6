"""An idempotent call: one record id per (partner, scope, key), one fingerprint per request."""

from __future__ import annotations

import pytest

from ledger._idempotency import IdempotentCall


@pytest.mark.parametrize("key", [None, ""])
def test_without_a_key_there_is_no_call(key: str | None) -> None:
    assert IdempotentCall.of("politie", "case-1", key, "triage", {"decision": "accept"}) is None


def test_a_retry_finds_the_same_record_and_fingerprint() -> None:
    first = IdempotentCall.of("politie", "case-1", "k-1", "triage", {"decision": "accept"})
    retry = IdempotentCall.of("politie", "case-1", "k-1", "triage", {"decision": "accept"})
    assert first is not None
    assert first == retry


def test_the_record_id_is_per_partner_scope_and_key() -> None:
    calls = [
        IdempotentCall.of("politie", "case-1", "k-1", "triage", {}),
        IdempotentCall.of("gemeente", "case-1", "k-1", "triage", {}),
        IdempotentCall.of("politie", "case-2", "k-1", "triage", {}),
        IdempotentCall.of("politie", "case-1", "k-2", "triage", {}),
    ]
    ids = {call.record_id for call in calls if call is not None}
    assert len(ids) == 4


def test_another_request_under_the_same_key_has_another_fingerprint() -> None:
    accept = IdempotentCall.of("politie", "case-1", "k-1", "triage", {"decision": "accept"})
    reject = IdempotentCall.of("politie", "case-1", "k-1", "triage", {"decision": "reject"})
    other = IdempotentCall.of("politie", "case-1", "k-1", "close", {"decision": "accept"})
    assert accept is not None
    assert reject is not None
    assert other is not None
    assert accept.record_id == reject.record_id == other.record_id
    assert len({accept.fingerprint, reject.fingerprint, other.fingerprint}) == 3
