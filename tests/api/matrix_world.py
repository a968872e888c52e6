"""The world the authorisation matrix runs in, built over HTTP with canaries in every body.

Cases: A (active), C (closed), T (in triage), K (active, to be closed). A, C and K have the
participants zvh (office), politie (referrer), ggz, woningcorporatie and ggd; reclassering was
invited and removed; gemeente never took part. A, C and K name woningcorporatie's
casusregisseur. Every fact body is a canary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tests.api.support import PO, PR, Auth, canary, ok, open_case

Who = tuple[str, str]
#: Who records for a partner (a contributor role the covenant lets it hold).
RECORDER: dict[str, Who] = {
    "zvh": PR,
    "politie": ("politie", "melder"),
    "ggz": ("ggz", "deelnemer"),
    "woningcorporatie": ("woningcorporatie", "casusregisseur"),
    "reclassering": ("reclassering", "deelnemer"),
}
#: Each partner's canonical fact: categories, sharing level, named partners.
SPECS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "zvh": (("plan",), "participants", ()),
    "politie": (("criminal",), "partners", ("ggz",)),
    "ggz": (("health",), "partners", ("woningcorporatie",)),
    "woningcorporatie": (("finance",), "participants", ()),
    "reclassering": (("housing",), "participants", ()),
}
STAFF = ("ggz", "woningcorporatie", "reclassering", "ggd")


@dataclass(frozen=True)
class FactInfo:
    case: str  # world key: A, C, K
    owner: str
    level: str
    partners: tuple[str, ...]
    canary: str


@dataclass
class World:
    client: TestClient
    auth: Auth
    cases: dict[str, str] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)
    facts: dict[tuple[str, str], str] = field(default_factory=dict)
    info: dict[str, FactInfo] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)  # retracted or erased fact ids
    pools: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    directors: dict[str, str] = field(default_factory=dict)  # case key -> casusregisseur's org
    erasure_id: str = ""

    # -- building -------------------------------------------------------------------------

    def post(self, who: Who, url: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        return ok(self.client.post(url, json=body, headers=self.auth.headers(who)), status)

    def build(self) -> World:
        for key in ("A", "C", "K"):
            self.staffed_case(key)
        self.triage_case()
        self.post(PR, f"/v1/cases/{self.cases['C']}/close", {"reason": "done"})
        return self

    def triage_case(self) -> None:
        self.cases["T"] = open_case(self.client, self.auth)

    def staffed_case(self, key: str) -> None:
        case_id = open_case(self.client, self.auth)
        self.cases[key] = case_id
        base = f"/v1/cases/{case_id}"
        self.post(PR, f"{base}/triage", {"decision": "accept", "reason": "complex"})
        for org in STAFF:
            self.post(PR, f"{base}/participants", {"org": org}, 201)
        self.subjects[key] = self.post(PR, f"{base}/subjects", {"case_role": "client"}, 201)[
            "subject_id"
        ]
        # Regie facts open to the casusregisseur the case names (and the procesregisseur).
        director = {"user": "woningcorporatie-casusregisseur", "org": "woningcorporatie"}
        ok(self.client.put(f"{base}/casusregisseur", json=director, headers=self.auth.headers(PR)))
        self.directors[key] = "woningcorporatie"
        if key == "K":
            self.client.delete(f"{base}/participants/reclassering", headers=self.auth.headers(PR))
            return
        for owner in SPECS:
            self.facts[(key, owner)] = self.record(key, owner, *SPECS[owner])
        self.facts[(key, "ggz-regie")] = self.record(key, "ggz", ("care_need",), "regie", ())
        for owner in RECORDER:
            count = 4 if owner == "reclassering" else 1
            self.pools[(key, owner, "consent")] = [self.consent(key, owner) for _ in range(count)]
        self.pools[(key, "reclassering", "fact")] = [
            self.record(key, "reclassering", ("housing",), "participants", ()) for _ in range(4)
        ]
        self.actions[key] = self.post(
            PR,
            f"{base}/actions",
            {"assignee": "woningcorporatie", "what": "Betalingsregeling", "due": "2026-12-01"},
            201,
        )["action_id"]
        erased = self.record(key, "ggz", ("plan",), "participants", ())
        self.facts[(key, "erased")] = erased
        erasure = {
            "scope": "fact",
            "case_id": case_id,
            "fact_id": erased,
            "ground": "art17_request",
        }
        self.erasure_id = self.post(PO, "/v1/erasures", erasure, 201)["erasure_id"]
        self.gone.add(erased)
        self.client.delete(f"{base}/participants/reclassering", headers=self.auth.headers(PR))

    def record(
        self,
        key: str,
        owner: str,
        categories: tuple[str, ...],
        level: str,
        partners: tuple[str, ...],
    ) -> str:
        secret = canary(f"{key}-{owner}")
        sharing: dict[str, Any] = {"level": level}
        if partners:
            sharing["partners"] = list(partners)
        body = {
            "kind": "observation", "subjects": [self.subjects[key]], "categories": list(categories),
            "purpose": "zvh_joint_approach", "legal_basis": "wgs", "sharing": sharing,
            "body": {"text": secret},
        }  # fmt: skip
        fact_id = str(
            self.post(RECORDER[owner], f"/v1/cases/{self.cases[key]}/facts", body, 201)["fact_id"]
        )
        self.info[fact_id] = FactInfo(key, owner, level, partners, secret)
        return fact_id

    def consent(self, key: str, owner: str) -> str:
        body = {"subject": self.subjects[key], "purpose": "zvh_joint_approach",
                "categories": ["housing"], "recipients": ["gemeente"]}  # fmt: skip
        url = f"/v1/cases/{self.cases[key]}/consents"
        return str(self.post(RECORDER[owner], url, body, 201)["consent_id"])

    # -- fresh targets for writes that consume them -----------------------------------------

    def fresh_fact(self, owner: str) -> str:
        return self.record("A", owner, ("plan",), "participants", ())

    def take(self, key: str, owner: str, kind: str) -> str:
        pool = self.pools[(key, owner, kind)]
        return pool.pop() if len(pool) > 1 else pool[0]

    def canaries(self) -> dict[str, str]:
        return {info.canary: fact_id for fact_id, info in self.info.items()}
