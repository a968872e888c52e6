"""Erasure certificates: for every scope the signed document verifies (and fails once changed
or checked against another key) and holds ids and counts only, never a canary."""

from __future__ import annotations

import base64
import copy
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger._audit_signing import verify_document
from tests.api.support import SECOND_PO_SUB
from tests.scenarios.checks import found
from tests.scenarios.conftest import Env
from tests.scenarios.world import PO, sc1_intake, sc2_deferred, user


def other_public_key() -> str:
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


class TestErasureCertificates:
    """Fact, subject, owner and case erasures each yield a verifiable, content-free certificate."""

    def test_every_scope(self, env: Env) -> None:
        http = env.http
        sc1, sc2 = sc1_intake(http), sc2_deferred(http)
        canaries = sc1.all_canaries() + sc2.all_canaries()
        about_b = {f for label, f in sc2.facts.items() if "B" in sc2.fact_subjects[label]}
        requests = [
            (
                {"scope": "fact", "case_id": sc1.case_id, "fact_id": sc1.facts["rent arrears"],
                 "ground": "art17_request"},
                sc1.facts["rent arrears"], {sc1.facts["rent arrears"]},
            ),
            (
                {"scope": "subject", "case_id": sc2.case_id, "subject_id": sc2.subjects["B"],
                 "ground": "art17_request"},
                sc2.subjects["B"], about_b,
            ),
            (
                {"scope": "owner", "org": "ggz", "ground": "owner_withdrawal"},
                "ggz", {sc1.facts["diagnosis"]},
            ),
            (
                {"scope": "case", "case_id": sc1.case_id, "ground": "art17_request"},
                sc1.case_id, set(sc1.facts.values()) - {sc1.facts["diagnosis"]},
            ),
        ]  # fmt: skip
        public_key = http.services.access_log.keys.public_key_b64()
        second = http.auth.headers(PO, "accountability", sub=SECOND_PO_SUB)
        for body, target, unreadable in requests:
            created = http.call(PO, "POST", "/v1/erasures", body)
            four_eyes = body["scope"] in ("owner", "case")  # a whole owner or case: confirmed
            if four_eyes:
                assert created.status_code == 202, created.text
                assert created.json()["status"] == "awaiting_confirmation"
                confirm = f"/v1/erasures/{created.json()['erasure_id']}/confirm"
                created = http.client.post(confirm, headers=second)
            assert created.status_code == 201, created.text
            erasure_id = created.json()["erasure_id"]
            signed = created.json()["certificate"]
            assert http.get(PO, f"/v1/erasures/{erasure_id}")["certificate"] == signed
            assert signed["algorithm"] == "Ed25519"
            assert signed["public_key"] == public_key
            assert verify_document(signed, public_key)
            assert not verify_document(signed, other_public_key())
            changed = copy.deepcopy(signed)
            changed["document"]["unreadable_fact_ids"] = []
            assert not verify_document(changed, public_key)

            document = signed["document"]
            assert document["erasure_id"] == erasure_id
            assert (document["scope"], document["target_id"], document["ground"]) == (
                body["scope"], target, body["ground"]
            )  # fmt: skip
            assert document["requested_by"] == user(PO)
            if four_eyes:
                assert document["confirmed_by"] == SECOND_PO_SUB
            assert set(document["unreadable_fact_ids"]) == unreadable
            destroyed = document["destroyed"]
            assert destroyed["scope_keys"] == len(destroyed["scope_key_ids"])
            assert destroyed["fact_keys"] == len(destroyed["fact_key_ids"])
            assert destroyed["scope_keys"] + destroyed["fact_keys"] >= 1
            assert document["epoch"]["kek_versions_destroyed"]
            assert document["residual"]["key_store_backups_before"] == document["erased_at"]
            assert found(json.dumps(signed), canaries) == []
