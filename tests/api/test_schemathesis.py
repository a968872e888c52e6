"""Schemathesis against the app's own OpenAPI document: every check, two roles, 100 generated
requests per operation (50 per role, half schema-valid, half schema-violating); no server
error, no schema violation, and no rejected request stores an event. Path ids point at a
real case, so requests reach the domain.

Checks use schemathesis' defaults with one widening: ``positive_data_acceptance`` also
accepts 422, the documented answer to schema-valid requests the covenant refuses (a health
fact shared with all participants, a subject that is not in the case, a duplicate invite).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi

from api._schemas import CASE_ID_PATTERN
from api._tokens import create_local_signing_key
from api.app import create_app
from api.settings import Settings
from policies import sample_covenant_path
from tests.api.support import PR, PURPOSE, Auth, canary

pytestmark = pytest.mark.slow
BASE = "http://testserver"
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
        }
    },
    "generation": {"max-examples": 100},
}


class Fuzz:
    """The app under test, a real case to aim at, and counters."""

    def __init__(self, tmp: Path) -> None:
        self.settings = Settings(data_dir=tmp, covenant_path=Path(str(sample_covenant_path())))
        create_local_signing_key(self.settings)
        self.app = create_app(self.settings)
        self.auth = Auth(self.settings)
        self.http = asgi.get_client(self.app).__enter__()  # starts the lifespan
        self.calls = 0
        self.statuses: dict[int, int] = {}
        self.case_id = self._case()

    def _post(self, who: tuple[str, str], path: str, body: Any) -> dict[str, Any]:
        response = self.http.post(BASE + path, json=body, headers=self.auth.headers(who))
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def _case(self) -> str:
        opened = self._post(PR, "/v1/cases", {"purpose": PURPOSE, "legal_basis": "wgs",
                                               "referred_by": "politie", "phase": 3})  # fmt: skip
        case = f"/v1/cases/{opened['case_id']}"
        self._post(PR, f"{case}/triage", {"decision": "accept", "reason": "r"})
        self._post(PR, f"{case}/participants", {"org": "ggz"})
        subject = self._post(PR, f"{case}/subjects", {"case_role": "client"})["subject_id"]
        self._post(("ggz", "deelnemer"), f"{case}/facts", {
            "kind": "observation", "subjects": [subject], "categories": ["plan"],
            "purpose": PURPOSE, "legal_basis": "wgs", "sharing": {"level": "participants"},
            "body": {"text": canary("fuzz")}})  # fmt: skip
        return str(opened["case_id"])

    def events(self) -> int:
        return int(self.app.state.services.ledger.recorder.max_notification_id() or 0)


@pytest.fixture
def fuzz(tmp_path: Path) -> Iterator[Fuzz]:
    world = Fuzz(tmp_path)
    yield world
    print(
        f"schemathesis: {world.calls} generated requests; statuses {sorted(world.statuses.items())}"
    )
    asgi.shutdown_lifespans()


@pytest.fixture
def api_schema(fuzz: Fuzz) -> Any:
    return schemathesis.openapi.from_asgi(
        "/openapi.json", fuzz.app, config=schemathesis.Config.from_dict(CONFIG)
    )


#: Per role and operation; two roles make 100 generated requests per operation.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 25}


def _exercise(case: Any, fuzz: Fuzz, who: tuple[str, str]) -> None:
    params = case.path_parameters or {}
    given = params.get("case")
    if isinstance(given, str) and re.match(CASE_ID_PATTERN, given):
        params["case"] = fuzz.case_id  # aim at a real case, so requests reach the domain
    token = fuzz.auth.token(*who)
    before = fuzz.events()
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
    fuzz.calls += 1
    fuzz.statuses[response.status_code] = fuzz.statuses.get(response.status_code, 0) + 1
    if response.status_code >= 400:
        assert fuzz.events() == before, "a rejected request stored an event"


@pytest.mark.parametrize("who", [PR, ("ggz", "deelnemer")], ids=["procesregisseur", "deelnemer"])
def test_openapi_contract(api_schema: Any, fuzz: Fuzz, who: tuple[str, str]) -> None:
    """Every operation: 25 schema-valid and 25 schema-violating requests per role."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                _exercise(case, fuzz, who)

            try:
                run()
            except Unsatisfiable:
                # Nothing to violate (no parameters, no body): only positive data exists.
                assert mode is GenerationMode.NEGATIVE
