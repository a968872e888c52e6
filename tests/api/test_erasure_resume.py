"""The service's start finishes an erasure whose keys were destroyed but whose record did not
commit (the process failed in between): the record is there, and in the views, before the
first request is served."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import build_services
from api.settings import Settings
from ledger._case import Case
from ledger._faults import FaultPlan, installed
from tests.integration._ledger_support import (
    POLITIE,
    PRIVACY_OFFICER,
    add_subject,
    open_active_case,
    record,
)


def test_start_records_an_erasure_left_unrecorded(api_settings: Settings) -> None:
    services = build_services(api_settings)
    try:
        ledger = services.ledger
        case_id = open_active_case(ledger, invite=("politie",))
        subject = add_subject(ledger, case_id)
        fact_id = record(ledger, POLITIE, case_id, {"about": "subject"}, subjects=[subject])
        with installed(FaultPlan(topic=get_topic(Case.Erased))), pytest.raises(PersistenceError):
            ledger.erase_subject(PRIVACY_OFFICER, case_id, subject, ground="art17")
        assert ledger.get_case(case_id).erasures == []
    finally:
        services.close()

    with TestClient(create_app(api_settings)) as client:
        served = client.app.state.services  # type: ignore[attr-defined]
        (kept,) = served.ledger.get_case(case_id).erasures
        assert kept["scope"] == "subject"
        assert kept["target_id"] == subject
        assert kept["fact_ids"] == [fact_id]
        assert served.ledger.resume_erasures() == []
        # The privacy officer's certificate of the finished erasure lists its fact.
        certificate = client.app.state.office.certificate(kept["erasure_id"])  # type: ignore[attr-defined]
        assert fact_id in str(certificate)
