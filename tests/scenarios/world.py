"""The docs/domain.md scenarios SC1-SC5, played over HTTP as the partners would.

Everything is invented. Every free text (fact bodies, identities, reasons, action
descriptions) carries a canary string filed under the subject it is about (or under "case"
for process texts), so a test can prove that one subject's data never reaches another's
report, a role that may not see it, a certificate, or the database files after erasure.

``play_all`` builds the "demo world" the privacy-officer questions are asked of (also used by
docs/generate_privacy_officer.py); the single-scenario functions are used by the scenario tests.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from api.bootstrap import Services
from policies import PartnerId, Principal, RoleId, UserId
from projections import ReadRequest
from projections._privacy import PrivacyOffice
from tests.api.support import SECOND_PO_SUB, Auth, shaped_body

Who = tuple[str, str]
JOINT = "zvh_joint_approach"
AFTERCARE = "aftercare_detention"
POLLUTION = "housing_pollution"
META = "accountability"

PR: Who = ("zvh", "procesregisseur")
CLERK: Who = ("zvh", "administratief_medewerker")
PO: Who = ("zvh", "privacy_officer")
POLICE: Who = ("politie", "melder")
PROBATION: Who = ("reclassering", "deelnemer")
MENTAL_HEALTH: Who = ("ggz", "deelnemer")
CORPORATION: Who = ("woningcorporatie", "deelnemer")
VEILIG_THUIS: Who = ("veilig_thuis", "deelnemer")
POLICE_OFFICER: Who = ("politie", "deelnemer")
GGD: Who = ("ggd", "deelnemer")
FIRE: Who = ("brandweer", "deelnemer")
INSPECTION: Who = ("bwt", "deelnemer")
DJI: Who = ("dji", "deelnemer")
MUNICIPALITY: Who = ("gemeente", "deelnemer")
OUTSIDER: Who = ("om", "deelnemer")  # a partner that is never invited anywhere

START = datetime(2026, 3, 2, 9, 0, 0, 1, tzinfo=UTC)
EMERGENCY_REASON = "Tenant in acute crisis at the door; crisis team asks for context"
ON_BEHALF_OF = "reclassering-casusregisseur"


def user(who: Who) -> str:
    """The user id ``Auth`` puts in the token of ``who``."""
    return f"{who[0]}-{who[1]}"


def officer_request() -> ReadRequest:
    """The privacy officer as the services see a request (to ask the office directly)."""
    roles = frozenset({RoleId("privacy_officer")})
    return ReadRequest(Principal(UserId(user(PO)), PartnerId("zvh"), roles), META)


class ScenarioClock:
    """The application's clock: starts at START, ticks 1 ms per reading, can jump ahead."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=1)
            return self._now

    def peek(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            assert moment >= self._now, "time only moves forward"
            self._now = moment


@dataclass
class CaseRecord:
    """Ids, labels and canaries of one scenario's case."""

    name: str
    case_id: str
    purpose: str
    subjects: dict[str, str] = field(default_factory=dict)  # label -> subject id
    facts: dict[str, str] = field(default_factory=dict)  # label -> fact id
    fact_subjects: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fact -> subjects
    fact_canary: dict[str, str] = field(default_factory=dict)  # fact label -> canary
    fact_owner: dict[str, str] = field(default_factory=dict)  # fact label -> owner partner
    canaries: dict[str, list[str]] = field(default_factory=dict)  # subject label -> canaries
    actions: dict[str, str] = field(default_factory=dict)  # label -> action id
    consents: dict[str, str] = field(default_factory=dict)  # label -> consent id
    holds: dict[str, str] = field(default_factory=dict)  # reason code -> hold id
    moments: dict[str, datetime] = field(default_factory=dict)  # e.g. "closed" -> clock time
    phases: list[int] = field(default_factory=list)  # AVE phases as the procesregisseur saw them
    texts: dict[str, str] = field(default_factory=dict)  # process text label -> its canary

    def path(self, suffix: str = "") -> str:
        return f"/v1/cases/{self.case_id}{suffix}"

    def text(self, owner_label: str, words: str) -> str:
        """Invented text with a canary, filed under ``owner_label`` (a subject or "case")."""
        canary = f"CANARY-{self.name}-{owner_label}-{uuid.uuid4().hex[:12]}"
        self.canaries.setdefault(owner_label, []).append(canary)
        return f"{words} [{canary}]"

    def label_of(self, fact_id: str) -> str:
        return next(label for label, fid in self.facts.items() if fid == fact_id)

    def all_canaries(self) -> list[str]:
        return [c for values in self.canaries.values() for c in values]

    def canaries_except(self, *subjects: str) -> list[str]:
        return [c for s, values in self.canaries.items() if s not in subjects for c in values]


@dataclass
class Http:
    """One TestClient session: who calls what, for which purpose."""

    client: TestClient
    auth: Auth
    clock: ScenarioClock

    @property
    def services(self) -> Services:
        services: Services = self.client.app.state.services  # type: ignore[attr-defined]
        return services

    @property
    def office(self) -> PrivacyOffice:
        office: PrivacyOffice = self.client.app.state.office  # type: ignore[attr-defined]
        return office

    def log_position(self) -> int:
        """The sequence number of the last access-log entry (entries are numbered 1, 2, ...)."""
        return self.services.access_log.count()

    def call(
        self,
        who: Who,
        method: str,
        path: str,
        body: Any = None,
        *,
        purpose: str | None = None,
        **headers: str,
    ) -> Response:
        sent = self.auth.headers(who, META if who == PO else purpose or JOINT, **headers)
        return self.client.request(method, path, json=body, headers=sent)

    def do(
        self, who: Who, path: str, body: Any = None, *, purpose: str | None = None
    ) -> dict[str, Any]:
        response = self.call(who, "POST", path, body if body is not None else {}, purpose=purpose)
        assert response.status_code in (200, 201), (path, who, response.text)
        result: dict[str, Any] = response.json()
        return result

    def erase_with_four_eyes(self, body: dict[str, Any]) -> dict[str, Any]:
        """An erasure a first privacy officer requests and a second confirms (201)."""
        requested = self.call(PO, "POST", "/v1/erasures", body)
        assert requested.status_code == 202, requested.text
        confirm = f"/v1/erasures/{requested.json()['erasure_id']}/confirm"
        second = self.auth.headers(PO, META, sub=SECOND_PO_SUB)
        confirmed = self.client.post(confirm, headers=second)
        assert confirmed.status_code == 201, confirmed.text
        result: dict[str, Any] = confirmed.json()
        return result

    def get(self, who: Who, path: str, *, purpose: str | None = None, **headers: str) -> Any:
        response = self.call(who, "GET", path, purpose=purpose, **headers)
        assert response.status_code == 200, (path, who, response.text)
        return response.json()

    def view(self, who: Who, case: CaseRecord, **headers: str) -> Response:
        return self.call(who, "GET", case.path(), purpose=case.purpose, **headers)

    def seen(self, who: Who, case: CaseRecord, **headers: str) -> dict[str, bool]:
        """Fact label -> body present, as ``who`` sees the case (asserts a 200)."""
        response = self.view(who, case, **headers)
        assert response.status_code == 200, (who, response.text)
        return {case.label_of(f["fact_id"]): "body" in f for f in response.json()["facts"]}

    def audit(self, **filters: Any) -> list[dict[str, Any]]:
        """Every access-log entry matching the filters (all pages)."""
        params = {k: _param(v) for k, v in filters.items() if v is not None}
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            response = self.client.get(
                "/v1/audit/entries", params=page, headers=self.auth.headers(PO, META)
            )
            assert response.status_code == 200, response.text
            body = response.json()
            entries.extend(body["entries"])
            cursor = body["next"]
            if cursor is None:
                return entries

    # -- building blocks --------------------------------------------------------------------

    def open_case(
        self, name: str, referred_by: str, phase: int, purpose: str = JOINT
    ) -> CaseRecord:
        body = {"purpose": purpose, "legal_basis": "wgs", "referred_by": referred_by}
        created = self.do(PR, "/v1/cases", {**body, "phase": phase}, purpose=purpose)
        case = CaseRecord(name, str(created["case_id"]), purpose)
        self.do(
            PR,
            case.path("/triage"),
            {"decision": "accept", "reason": case.text("case", "accepted at triage")},
            purpose=purpose,
        )
        return case

    def invite(self, case: CaseRecord, *orgs: str) -> None:
        for org in orgs:
            self.do(PR, case.path("/participants"), {"org": org}, purpose=case.purpose)

    def subject(
        self, case: CaseRecord, label: str, role: str, *, by: Who = PR, identity: bool = False
    ) -> str:
        body: dict[str, Any] = {"case_role": role}
        if identity:
            body["identity"] = {"name": case.text(label, f"invented name of {label}")}
        added = self.do(by, case.path("/subjects"), body, purpose=case.purpose)
        case.subjects[label] = str(added["subject_id"])
        if identity:
            case.facts[f"identity {label}"] = str(added["identity_fact_id"])
            case.fact_subjects[f"identity {label}"] = (label,)
            case.fact_canary[f"identity {label}"] = case.canaries[label][-1]
            case.fact_owner[f"identity {label}"] = by[0]
        return case.subjects[label]

    def fact(
        self,
        case: CaseRecord,
        who: Who,
        label: str,
        about: Iterable[str],
        categories: list[str],
        *,
        level: str = "participants",
        partners: tuple[str, ...] = (),
        basis: str = "wgs",
        kind: str = "observation",
    ) -> str:
        about = tuple(about)
        owner_label = about[0] if len(about) == 1 else "+".join(about) if about else "case"
        text = case.text(owner_label, f"invented {label}")
        sharing: dict[str, Any] = {"level": level}
        if partners:
            sharing["partners"] = list(partners)
        body = {
            "kind": kind,
            "subjects": [case.subjects[s] for s in about],
            "categories": categories,
            "purpose": case.purpose,
            "legal_basis": basis,
            "sharing": sharing,
            "body": shaped_body(kind, who[0], text),
        }
        created = self.do(who, case.path("/facts"), body, purpose=case.purpose)
        case.facts[label] = str(created["fact_id"])
        case.fact_subjects[label] = about
        case.fact_canary[label] = case.canaries[owner_label][-1]
        case.fact_owner[label] = who[0]
        return case.facts[label]

    def action(self, case: CaseRecord, who: Who, label: str, assignee: str, due: str) -> str:
        body = {"assignee": assignee, "what": case.text("case", f"action: {label}"), "due": due}
        created = self.do(who, case.path("/actions"), body, purpose=case.purpose)
        case.actions[label] = str(created["action_id"])
        return case.actions[label]

    def inform(self, case: CaseRecord) -> None:
        body = {"decision": "inform", "reason": case.text("case", "no grounds to defer")}
        self.do(PR, case.path("/notification"), body, purpose=case.purpose)


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the scenarios ----------------------------------------------------------------------------


def sc1_intake(http: Http) -> CaseRecord:
    """SC1: the wijkagent refers M; AVE 3; M informed; reclassering, GGZ, corporation."""
    case = http.open_case("SC1", "politie", 3)
    http.inform(case)
    http.subject(case, "M", "client")
    http.invite(case, "reclassering", "ggz", "woningcorporatie")
    http.fact(case, MENTAL_HEALTH, "diagnosis", ["M"], ["health"], level="partners",
              partners=("reclassering",))  # fmt: skip
    http.fact(case, POLICE, "arrests", ["M"], ["criminal"], level="partners",
              partners=("reclassering",))  # fmt: skip
    http.fact(case, CORPORATION, "rent arrears", ["M"], ["finance", "housing"])
    http.fact(case, PR, "shared goal", ["M"], ["plan"], kind="shared_starting_point")
    http.action(case, CLERK, "payment plan", "woningcorporatie", "2026-04-01")
    http.action(case, PR, "intake", "ggz", "2026-04-08")
    return case


def sc2_deferred(http: Http) -> CaseRecord:
    """SC2: Veilig Thuis refers domestic violence: suspect A, victim B, child C; A not
    informed for now (review in four weeks)."""
    case = http.open_case("SC2", "veilig_thuis", 3)
    review_at = (http.clock.peek() + timedelta(weeks=4)).date().isoformat()
    case.moments["review_at"] = datetime.fromisoformat(review_at).replace(tzinfo=UTC)
    http.do(
        PR,
        case.path("/notification"),
        {
            "decision": "defer",
            "reason": case.text("case", "informing A now puts the victim at risk"),
            "review_at": review_at,
        },
    )
    case.texts["deferral reason"] = case.canaries["case"][-1]
    http.invite(case, "politie")
    http.subject(case, "A", "suspect", by=VEILIG_THUIS, identity=True)
    http.subject(case, "B", "victim", by=VEILIG_THUIS, identity=True)
    http.subject(case, "C", "child", by=VEILIG_THUIS)
    http.fact(case, VEILIG_THUIS, "address of B", ["B"], ["contact"], level="owner")
    http.fact(case, VEILIG_THUIS, "statement of B", ["B"], ["safety_risk"], level="regie")
    http.fact(case, VEILIG_THUIS, "risk posed by A", ["A"], ["safety_risk"], level="regie")
    http.fact(case, POLICE_OFFICER, "incident report", ["A", "B"], ["safety_risk"], level="regie")
    http.fact(case, VEILIG_THUIS, "school of C", ["C"], ["child_protection"])
    http.action(case, PR, "safety plan", "veilig_thuis", "2026-03-09")
    return case


def sc3_pollution(http: Http) -> CaseRecord:
    """SC3: severe home pollution; GGD leads; fire brigade and building inspection join."""
    case = http.open_case("SC3", "ggd", 3, POLLUTION)
    http.inform(case)
    http.invite(case, "brandweer", "bwt")
    http.subject(case, "S", "client")
    http.fact(case, GGD, "home visit", ["S"], ["housing"], level="regie")
    http.fact(case, GGD, "care note", ["S"], ["health"], level="owner")
    http.fact(case, FIRE, "fire risk", ["S"], ["safety_risk"])
    http.fact(case, INSPECTION, "structural defect", ["S"], ["housing"])
    http.fact(case, PR, "forced clean-out", ["S"], ["plan", "enforcement"], kind="decision")
    http.action(case, PR, "fire inspection", "brandweer", "2026-03-16")
    http.action(case, PR, "structural survey", "bwt", "2026-03-16")
    return case


def sc4_aftercare(http: Http) -> CaseRecord:
    """SC4: aftercare after detention; DJI dates without consent; consent for housing and
    debts (not care) with the municipality as recipient."""
    case = http.open_case("SC4", "dji", 3, AFTERCARE)
    http.inform(case)
    http.invite(case, "reclassering", "gemeente")
    subject = http.subject(case, "D", "client")
    for label in ("detention start", "detention end"):
        http.fact(case, DJI, label, ["D"], ["enforcement"], basis="legal_obligation")
    consent = {"subject": subject, "purpose": AFTERCARE, "recipients": ["gemeente"]}
    for label, categories in (("housing", ["housing"]), ("debts", ["finance"])):
        given = http.do(PROBATION, case.path("/consents"), {**consent, "categories": categories},
                        purpose=AFTERCARE)  # fmt: skip
        case.consents[label] = str(given["consent_id"])
    http.fact(case, PROBATION, "housing need", ["D"], ["housing"], basis="consent")
    http.fact(case, PROBATION, "debts", ["D"], ["finance"], basis="consent")
    http.fact(case, PROBATION, "care need", ["D"], ["care_need"], basis="consent")
    return case


def sc4_withdraw_debts(http: Http, case: CaseRecord) -> None:
    """The detainee withdraws the consent for debts (recorded by reclassering)."""
    # Strictly after every earlier reading of the clock, and before the withdrawal's own time.
    case.moments["withdrawn"] = http.clock.peek() + timedelta(microseconds=1)
    http.do(PROBATION, case.path(f"/consents/{case.consents['debts']}/withdrawal"),
            purpose=AFTERCARE)  # fmt: skip


def sc5_escalation(http: Http) -> CaseRecord:
    """SC5: AVE 2, escalated to 3 after a police report, de-escalated, then closed."""
    case = http.open_case("SC5", "politie", 2)
    http.inform(case)
    http.invite(case, "gemeente")
    http.subject(case, "E", "client", identity=True)
    case.phases.append(http.get(PR, case.path())["phase"])
    http.fact(case, POLICE, "police report", ["E"], ["safety_risk"])
    http.do(PR, case.path("/phase"), {"phase": 3, "reason": case.text("case", "police report")})
    case.phases.append(http.get(PR, case.path())["phase"])
    http.fact(case, MUNICIPALITY, "support plan", ["E"], ["plan", "care_need"])
    http.action(case, PR, "debt counselling", "gemeente", "2026-05-01")
    http.do(PR, case.path("/phase"), {"phase": 2, "reason": case.text("case", "stable now")})
    case.phases.append(http.get(PR, case.path())["phase"])
    return case


def sc5_close(http: Http, case: CaseRecord) -> None:
    """The goals are reached: the procesregisseur closes the case (the moment is kept)."""
    http.do(PR, case.path("/close"), {"reason": case.text("case", "goals reached")})
    case.moments["closed"] = http.clock.peek()


# -- the demo world ------------------------------------------------------------------------


@dataclass
class World:
    """All five scenarios played, plus what happened afterwards (see ``play_all``)."""

    http: Http
    sc1: CaseRecord
    sc2: CaseRecord
    sc3: CaseRecord
    sc4: CaseRecord
    sc5: CaseRecord
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def cases(self) -> list[CaseRecord]:
        return [self.sc1, self.sc2, self.sc3, self.sc4, self.sc5]

    def all_canaries(self) -> list[str]:
        return [c for case in self.cases for c in case.all_canaries()]


def everyone_looks(http: Http, case: CaseRecord, roles: Iterable[Who]) -> None:
    """Each role opens the case (allowed or refused: either way it is logged)."""
    for who in roles:
        http.view(who, case)


def play_all(http: Http) -> World:
    """SC1-SC5 with every role looking, then a week of privacy-relevant events:

    * SC1: reclassering reads on behalf of its casusregisseur; the police try to read the case
      for a criminal investigation (refused: purpose); the corporation tries to break the
      glass (no emergency rule opens health or criminal data for it: nothing more shown);
      a GGD nurse, not a participant, breaks the glass (the vital-interest rule opens the
      diagnosis to the GGD, never the arrests).
    * SC3: a non-participant (gemeente) tries to read; the clean-out is done, the case closed,
      and the resident's complaint puts a legal hold on it.
    * SC4: the municipality reads before and after the debt consent is withdrawn.
    * SC5: closed; participants try to read afterwards (refused: case closed).
    * A day later the privacy officer runs retention: the withdrawn debt fact is erased.
    """
    sc1 = sc1_intake(http)
    everyone_looks(http, sc1, [CORPORATION, PROBATION, MENTAL_HEALTH, POLICE, PR, CLERK, PO])
    http.view(PROBATION, sc1, X_On_Behalf_Of=ON_BEHALF_OF)
    http.call(POLICE, "GET", sc1.path(), purpose="criminal_investigation")
    http.view(CORPORATION, sc1, X_Emergency_Reason=EMERGENCY_REASON)
    http.view(GGD, sc1, X_Emergency_Reason=EMERGENCY_REASON)

    sc2 = sc2_deferred(http)
    everyone_looks(http, sc2, [VEILIG_THUIS, PR, POLICE_OFFICER, PO])

    sc3 = sc3_pollution(http)
    everyone_looks(http, sc3, [GGD, FIRE, INSPECTION, PR, MUNICIPALITY])

    sc4 = sc4_aftercare(http)
    everyone_looks(http, sc4, [MUNICIPALITY, PROBATION, DJI])
    sc4_withdraw_debts(http, sc4)
    everyone_looks(http, sc4, [MUNICIPALITY, PROBATION, DJI])

    sc5 = sc5_escalation(http)
    everyone_looks(http, sc5, [POLICE, MUNICIPALITY, PR])
    sc5_close(http, sc5)
    everyone_looks(http, sc5, [POLICE, MUNICIPALITY, PO])

    world = World(http, sc1, sc2, sc3, sc4, sc5)
    http.do(PR, sc3.path("/close"), {"reason": sc3.text("case", "clean-out done")},
            purpose=POLLUTION)  # fmt: skip
    sc3.moments["closed"] = http.clock.peek()
    hold = http.do(PO, "/v1/holds", {"case_id": sc3.case_id, "reason_code": "complaint"})
    sc3.holds["complaint"] = str(hold["hold_id"])

    http.clock.advance(timedelta(days=1))
    run = http.do(PO, "/v1/retention/run", {})
    world.notes["retention_run"] = run
    everyone_looks(http, sc4, [MUNICIPALITY])  # the erased debt fact: refused as erased
    return world
