"""Issue 18 item 7: an identity fact is authorised under exactly the basis it is recorded
under (the case's own, unless the caller names one), not under a fixed ``wgs``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from policies import sample_covenant_path
from tests.api.conftest import make_settings
from tests.api.support import PR, Auth, ok

WGS_BLOCK = """[[legal_bases]]
id = "wgs"
description = "Wet gegevensverwerking door samenwerkingsverbanden (designated partnership)"
"""


@pytest.fixture
def without_wgs(tmp_path: Path) -> Iterator[tuple[TestClient, Auth]]:
    """A partnership working on public task and consent only: no WGS basis declared."""
    text = Path(str(sample_covenant_path())).read_text(encoding="utf-8")
    assert WGS_BLOCK in text
    covenant = tmp_path / "covenant.toml"
    covenant.write_text(text.replace(WGS_BLOCK, ""), encoding="utf-8")
    source = make_settings(tmp_path, "sqlite", covenant_path=covenant)
    settings = next(source)
    try:
        with TestClient(create_app(settings)) as client:
            yield client, Auth(settings)
    finally:
        source.close()


class TestIdentityFactBasis:
    """The recorded basis is the authorised basis."""

    def test_the_cases_basis_is_used_and_authorised(
        self, without_wgs: tuple[TestClient, Auth]
    ) -> None:
        client, auth = without_wgs
        body = {"purpose": "zvh_joint_approach", "legal_basis": "public_task",
                "referred_by": "politie", "phase": 2}  # fmt: skip
        case_id = ok(client.post("/v1/cases", json=body, headers=auth.headers(PR)), 201)["case_id"]
        added = client.post(
            f"/v1/cases/{case_id}/subjects",
            json={"case_role": "client", "identity": {"name": "Invented Person"}},
            headers=auth.headers(PR),
        )
        assert added.status_code == 201, added.text
        fact_id = added.json()["identity_fact_id"]
        view = ok(client.get(f"/v1/cases/{case_id}", headers=auth.headers(PR)))
        (identity,) = [f for f in view["facts"] if f["fact_id"] == fact_id]
        assert identity["legal_basis"] == "public_task"
        assert identity["categories"] == ["identity"]

    def test_a_named_basis_is_authorised_as_named(
        self, without_wgs: tuple[TestClient, Auth]
    ) -> None:
        client, auth = without_wgs
        body = {"purpose": "zvh_joint_approach", "legal_basis": "public_task",
                "referred_by": "politie", "phase": 2}  # fmt: skip
        case_id = ok(client.post("/v1/cases", json=body, headers=auth.headers(PR)), 201)["case_id"]
        refused = client.post(
            f"/v1/cases/{case_id}/subjects",
            json={"case_role": "client", "legal_basis": "wgs", "identity": {"name": "X"}},
            headers=auth.headers(PR),
        )
        assert refused.status_code == 422  # wgs is not declared here
        named = client.post(
            f"/v1/cases/{case_id}/subjects",
            json={"case_role": "client", "legal_basis": "legal_obligation",
                  "identity": {"name": "Invented Other"}},
            headers=auth.headers(PR),
        )  # fmt: skip
        assert named.status_code == 201, named.text
        view = ok(client.get(f"/v1/cases/{case_id}", headers=auth.headers(PR)))
        bases = {f["legal_basis"] for f in view["facts"]}
        assert bases == {"legal_obligation"}
