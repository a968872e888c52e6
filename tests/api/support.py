"""Helpers for the API tests: tokens and headers for invented users, and case set-up over HTTP.

Everything is invented; canary strings mark bodies that must never reach a reader who may not
see them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from api._tokens import issue_token
from api.settings import Settings

PURPOSE = "zvh_joint_approach"
META = "accountability"
PR = ("zvh", "procesregisseur")
CLERK = ("zvh", "administratief_medewerker")
PO = ("zvh", "privacy_officer")


def canary(label: str) -> str:
    """A unique string that must only appear where its reader may see it."""
    return f"CANARY-{label}-{uuid.uuid4().hex[:12]}"


@dataclass
class Auth:
    """Signs tokens with the test data dir's local key and builds request headers."""

    settings: Settings
    _tokens: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def token(self, org: str, role: str, sub: str | None = None) -> str:
        key = (org, role, sub or f"{org}-{role}")
        if key not in self._tokens:
            self._tokens[key] = issue_token(self.settings, sub=key[2], org=org, roles=[role])
        return self._tokens[key]

    def headers(
        self,
        who: tuple[str, str],
        purpose: str | None = None,
        *,
        sub: str | None = None,
        **extra: str,
    ) -> dict[str, str]:
        org, role = who
        default = META if role == "privacy_officer" else PURPOSE
        return {
            "Authorization": f"Bearer {self.token(org, role, sub)}",
            "X-Purpose": purpose or default,
            **{k.replace("_", "-"): v for k, v in extra.items()},
        }


#: The second privacy officer, who confirms what the first requested (four eyes).
SECOND_PO_SUB = "zvh-privacy_officer-2"


def erase_with_four_eyes(
    client: TestClient, auth: Auth, body: dict[str, Any], **extra: str
) -> dict[str, Any]:
    """Request an erasure that needs confirmation (202) and confirm it as a second privacy
    officer (201); the certificate answer."""
    requested = ok(client.post("/v1/erasures", json=body, headers=auth.headers(PO, **extra)), 202)
    assert requested["status"] == "awaiting_confirmation"
    url = f"/v1/erasures/{requested['erasure_id']}/confirm"
    return ok(client.post(url, headers=auth.headers(PO, sub=SECOND_PO_SUB)), 201)


def stored_events(client: TestClient) -> int:
    """How many events the ledger holds (its notification log's highest id)."""
    services = client.app.state.services  # type: ignore[attr-defined]
    return int(services.ledger.recorder.max_notification_id() or 0)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


@dataclass
class CaseSetup:
    """Ids of a case built over HTTP."""

    case_id: str
    subject_id: str
    facts: dict[str, str] = field(default_factory=dict)  # label -> fact id
    canaries: dict[str, str] = field(default_factory=dict)  # label -> canary in its body
    version: int = 0


def open_case(client: TestClient, auth: Auth, *, referred_by: str = "politie") -> str:
    body = {"purpose": PURPOSE, "legal_basis": "wgs", "referred_by": referred_by, "phase": 3}
    created = ok(client.post("/v1/cases", json=body, headers=auth.headers(PR)), 201)
    return str(created["case_id"])


def active_case(
    client: TestClient,
    auth: Auth,
    participants: tuple[str, ...] = ("ggz", "woningcorporatie"),
    *,
    referred_by: str = "politie",
) -> CaseSetup:
    """Open, accept and staff a case, with one client subject (no identity fact)."""
    case_id = open_case(client, auth, referred_by=referred_by)
    ok(
        client.post(
            f"/v1/cases/{case_id}/triage",
            json={"decision": "accept", "reason": "complex"},
            headers=auth.headers(PR),
        )
    )
    for org in participants:
        ok(
            client.post(
                f"/v1/cases/{case_id}/participants", json={"org": org}, headers=auth.headers(PR)
            ),
            201,
        )
    added = ok(
        client.post(
            f"/v1/cases/{case_id}/subjects", json={"case_role": "client"}, headers=auth.headers(PR)
        ),
        201,
    )
    return CaseSetup(case_id, str(added["subject_id"]), version=int(added["version"]))


def fact_body(
    subject: str,
    *,
    categories: tuple[str, ...] = ("plan",),
    level: str = "participants",
    partners: tuple[str, ...] = (),
    text: str = "invented",
    kind: str = "observation",
    owner: str = "",
) -> dict[str, Any]:
    """A fact's request body; a starting-point fact gets the goal's shape when ``owner`` is
    the partnership office, a picture's otherwise."""
    sharing: dict[str, Any] = {"level": level}
    if partners:
        sharing["partners"] = list(partners)
    return {
        "kind": kind,
        "subjects": [subject] if subject else [],
        "categories": list(categories),
        "purpose": PURPOSE,
        "legal_basis": "wgs",
        "sharing": sharing,
        "body": shaped_body(kind, owner, text),
    }


def shaped_body(kind: str, owner: str, text: str) -> dict[str, Any]:
    """A fact body holding ``text``, in the shape its kind needs."""
    if kind != "shared_starting_point":
        return {"text": text}
    return {"goal": text} if owner == "zvh" else {"picture": text}


def record(
    client: TestClient,
    auth: Auth,
    setup: CaseSetup,
    who: tuple[str, str],
    label: str,
    **kwargs: Any,
) -> str:
    """Record a fact with a canary body as ``who``; remembers id and canary under ``label``."""
    secret = canary(label)
    body = fact_body(setup.subject_id, text=secret, owner=who[0], **kwargs)
    created = ok(
        client.post(f"/v1/cases/{setup.case_id}/facts", json=body, headers=auth.headers(who)), 201
    )
    setup.facts[label] = str(created["fact_id"])
    setup.canaries[label] = secret
    return str(created["fact_id"])
