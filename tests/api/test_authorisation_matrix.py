"""Authorisation matrix: every role x every route x relationship, against an oracle written
from the routes table of docs/api.md and docs/domain.md's need-to-know rules (not from the code).

Relationships: the caller's own fact, another partner's fact, an erased fact, a wrong
(incompatible) purpose, a closed case, a non-participant, a removed participant. Each cell
checks the exact status and that no canary reaches a reader who may not see it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.api.matrix_world import World
from tests.api.support import CLERK, META, PO, PR, PURPOSE, Auth

Who = tuple[str, str]
PARTICIPANTS = [PR, CLERK, PO, ("politie", "melder"), ("ggz", "deelnemer"),
                ("woningcorporatie", "casusregisseur")]  # fmt: skip
OUTSIDERS = [("gemeente", "melder"), ("gemeente", "deelnemer"), ("gemeente", "casusregisseur")]
REMOVED = [("reclassering", "melder"), ("reclassering", "deelnemer"),
           ("reclassering", "casusregisseur")]  # fmt: skip
RELATIONSHIPS = {
    "own_fact": PARTICIPANTS, "other_fact": PARTICIPANTS, "erased_fact": PARTICIPANTS,
    "wrong_purpose": PARTICIPANTS, "closed_case": PARTICIPANTS,
    "non_participant": OUTSIDERS, "removed_participant": REMOVED,
}  # fmt: skip
CONTRIBUTORS = {"melder", "deelnemer", "casusregisseur", "procesregisseur"}
MEMBERS = {"A": {"zvh", "politie", "ggz", "woningcorporatie", "ggd"}, "T": {"zvh", "politie"}}
MEMBERS["C"] = MEMBERS["K"] = MEMBERS["A"]


@dataclass
class Cell:
    route: str
    who: Who
    rel: str
    case: str  # world key
    purpose: str
    fact: str = ""
    fact_owner: str = ""
    consent_owner: str = ""


# -- the oracle ------------------------------------------------------------------------------


def sees(cell: Cell) -> bool:
    """May the caller see the case's process data for the declared purpose? (docs/domain.md)"""
    org, role = cell.who
    if role == "privacy_officer":
        return cell.purpose == META
    if cell.purpose != PURPOSE or org not in MEMBERS[cell.case] or cell.case == "C":
        return False
    if cell.case == "T":
        return role in ("procesregisseur", "melder")
    return True


WHO = {
    "open": {"procesregisseur"}, "triage": {"procesregisseur"}, "invite": {"procesregisseur"},
    "remove": {"procesregisseur"}, "phase": {"procesregisseur"},
    "notification": {"procesregisseur"}, "close": {"procesregisseur"},
    "subject": CONTRIBUTORS, "fact": CONTRIBUTORS, "consent": CONTRIBUTORS,
    "correct": CONTRIBUTORS, "retract": CONTRIBUTORS, "withdraw": CONTRIBUTORS,
    "action_status": CONTRIBUTORS, "action": {"procesregisseur", "administratief_medewerker"},
    "erase": {"privacy_officer"},
}  # fmt: skip
ACTIVE = {"A", "K"}
STATUS = {"triage": {"T"}, "invite": ACTIVE, "remove": ACTIVE, "action": ACTIVE,
          "action_status": ACTIVE, "close": ACTIVE, "withdraw": {"A", "C", "K", "T"}}  # fmt: skip
CREATES = {"open", "subject", "invite", "fact", "action", "consent", "erase"}
UNGATED = {"retract", "withdraw"}


def expected(cell: Cell) -> int:
    """The status the contract promises for this cell."""
    org, role = cell.who
    route, visible = cell.route, sees(cell)
    ok = 201 if route in CREATES else 200
    if route in ("get_case", "get_actions"):
        return 200 if visible else 404
    if route == "list":
        return 200
    if route in ("audit", "verify", "erasure"):
        return 200 if role == "privacy_officer" and cell.purpose == META else 403
    if role not in WHO[route]:
        return 403 if route in ("open", "erase") or visible else 404
    if route == "erase" and cell.purpose != META:
        return 422  # erasure is supervision: for the accountability purpose only
    if route in ("open", "erase"):
        return ok
    if cell.case not in STATUS.get(route, {"A", "K", "T"}):
        return 409 if visible else 404
    if route not in UNGATED and org not in MEMBERS[cell.case]:
        return 404
    if route in ("correct", "retract", "withdraw"):
        owner = cell.consent_owner if route == "withdraw" else cell.fact_owner
        if owner != org:
            return 403 if visible else 404
        if route != "withdraw" and cell.rel == "erased_fact":
            return 409 if visible else 404
    if route == "action_status" and org != "woningcorporatie" and role != "procesregisseur":
        return 403 if visible else 404
    if route not in UNGATED and not visible:
        return 404
    return ok


def may_read(who: Who, purpose: str, world: World, fact_id: str) -> bool:
    """Need to know (docs/domain.md): may this caller see this fact's content in case A?"""
    org, role = who
    info = world.info[fact_id]
    if purpose != PURPOSE or role in ("privacy_officer", "administratief_medewerker"):
        return False
    if info.case != "A" or org not in MEMBERS["A"] or fact_id in world.gone:
        return False
    if info.owner == org or info.level == "participants":
        return True
    if info.level == "regie":  # the procesregisseur and the casusregisseur the case names
        named = world.directors.get(info.case)
        return role == "procesregisseur" or (role == "casusregisseur" and org == named)
    return info.level == "partners" and org in info.partners


# -- running a cell ---------------------------------------------------------------------------

ROUTES = ["open", "triage", "subject", "invite", "remove", "fact", "correct", "retract",
          "action", "action_status", "phase", "notification", "consent", "withdraw", "close",
          "erase", "get_case", "get_actions", "list", "audit", "verify", "erasure"]  # fmt: skip
OTHER = {"zvh": "ggz", "politie": "ggz", "ggz": "woningcorporatie", "woningcorporatie": "ggz"}


def make_cell(world: World, route: str, who: Who, rel: str) -> Cell:
    org, role = who
    purpose = META if role == "privacy_officer" else PURPOSE
    if rel == "wrong_purpose":
        purpose = PURPOSE if role == "privacy_officer" else "criminal_investigation"
    case = {"closed_case": "C"}.get(rel, "A")
    if route == "triage" and rel != "closed_case":
        case = "T"
    if route == "close" and rel != "closed_case":
        case = "K"
    cell = Cell(route, who, rel, case, purpose)
    if rel in ("own_fact", "wrong_purpose", "closed_case"):
        owner = org
    elif rel == "removed_participant":
        owner = "reclassering"
    else:
        owner = OTHER.get(org, "ggz")
    consumes = route in ("correct", "retract", "erase")
    if rel == "erased_fact":
        cell.fact, cell.fact_owner = world.facts[("A", "erased")], "ggz"
    elif rel == "removed_participant":
        pool = world.pools[("A", "reclassering", "fact")]
        fact = world.take("A", "reclassering", "fact") if route == "retract" else pool[0]
        cell.fact, cell.fact_owner = fact, "reclassering"
    elif case == "A" and consumes:
        cell.fact, cell.fact_owner = world.fresh_fact(owner), owner
    else:
        cell.fact, cell.fact_owner = world.facts[("A" if case in "TK" else case, owner)], owner
    if route == "withdraw":
        cell.consent_owner = owner
    return cell


def request(world: World, cell: Cell) -> Any:
    client, auth = world.client, world.auth
    case = world.cases[cell.case]
    base = f"/v1/cases/{case}"
    headers = auth.headers(cell.who, purpose=cell.purpose)
    subject = world.subjects.get(cell.case, world.subjects["A"])
    fact_key = "A" if cell.case in ("T", "K") else cell.case
    consent = _consent(world, cell) if cell.route == "withdraw" else ""
    bodies: dict[str, tuple[str, str, Any]] = {
        "open": ("POST", "/v1/cases", {"purpose": PURPOSE, "legal_basis": "wgs",
                                       "referred_by": "politie", "phase": 2}),
        "triage": ("POST", f"{base}/triage", {"decision": "accept", "reason": "r"}),
        "subject": ("POST", f"{base}/subjects", {"case_role": "relation"}),
        "invite": ("POST", f"{base}/participants", {"org": "brandweer"}),
        "remove": ("DELETE", f"{base}/participants/ggd", None),
        "fact": ("POST", f"{base}/facts", {
            "kind": "observation", "subjects": [subject], "categories": ["plan"],
            "purpose": PURPOSE, "legal_basis": "wgs", "sharing": {"level": "participants"},
            "body": {"text": "matrix"}}),
        "correct": ("POST", f"{base}/facts/{cell.fact}/corrections", {"body": {"text": "c"}}),
        "retract": ("POST", f"{base}/facts/{cell.fact}/retraction", {"reason": "r"}),
        "action": ("POST", f"{base}/actions", {"assignee": "woningcorporatie", "what": "w",
                                               "due": "2026-12-01"}),
        "action_status": ("POST", f"{base}/actions/{world.actions[fact_key]}/status",
                          {"status": "in_progress"}),
        "phase": ("POST", f"{base}/phase", {"phase": 4, "reason": "r"}),
        "notification": ("POST", f"{base}/notification", {"decision": "inform", "reason": "r"}),
        "consent": ("POST", f"{base}/consents", {"subject": subject, "purpose": PURPOSE,
                                                 "categories": ["housing"], "recipients": ["ggz"]}),
        "withdraw": ("POST", f"{base}/consents/{consent}/withdrawal", {}),
        "close": ("POST", f"{base}/close", {"reason": "r"}),
        "erase": ("POST", "/v1/erasures", {"scope": "fact", "case_id": case, "fact_id": cell.fact,
                                           "ground": "art17_request"}),
        "get_case": ("GET", base, None),
        "get_actions": ("GET", f"{base}/actions", None),
        "list": ("GET", "/v1/cases", None),
        "audit": ("GET", "/v1/audit/entries?limit=5", None),
        "verify": ("GET", "/v1/audit/verify", None),
        "erasure": ("GET", f"/v1/erasures/{world.erasure_id}", None),
    }  # fmt: skip
    method, url, body = bodies[cell.route]
    return client.request(method, url, json=body, headers=headers)


def _consent(world: World, cell: Cell) -> str:
    key = "C" if cell.case == "C" else "A"
    if (
        key == "A"
        and cell.rel in ("own_fact", "wrong_purpose")
        and cell.consent_owner != "reclassering"
    ):
        return world.consent("A", cell.consent_owner)
    return world.take(key, cell.consent_owner, "consent")


def restore(world: World, cell: Cell) -> None:
    """Undo an allowed write that would change later cells' relationships."""
    headers = world.auth.headers(PR)
    base = f"/v1/cases/{world.cases[cell.case]}"
    if cell.route == "invite":
        world.client.delete(f"{base}/participants/brandweer", headers=headers)
    elif cell.route == "remove":
        world.client.post(f"{base}/participants", json={"org": "ggd"}, headers=headers)
    elif cell.route == "triage":
        world.triage_case()
    elif cell.route == "close":
        world.staffed_case("K")
    elif cell.route in ("retract", "erase"):
        world.gone.add(cell.fact)
    elif cell.route == "correct":
        world.gone.add(cell.fact)  # its canary body was replaced


def leaks(world: World, cell: Cell, text: str) -> list[str]:
    allowed = cell.route == "get_case" and sees(cell)
    found = []
    for secret, fact_id in world.canaries().items():
        if secret in text and not (allowed and may_read(cell.who, cell.purpose, world, fact_id)):
            found.append(secret)
    return found


def _missing(world: World, cell: Cell, body: dict[str, Any]) -> list[str]:
    """Facts the caller may read in case A but that the view left out."""
    shown = {f["fact_id"] for f in body.get("facts", []) if "body" in f}
    return [f for f in world.info if may_read(cell.who, cell.purpose, world, f) and f not in shown]


class TestAuthorisationMatrix:
    """0 unexpected allows, 0 unexpected denies, 0 canary leaks, over every cell."""

    def test_matrix(self, client: TestClient, auth: Auth) -> None:
        world = World(client, auth).build()
        outcomes: Counter[str] = Counter()
        failures: list[str] = []
        for route in ROUTES:
            for rel, callers in RELATIONSHIPS.items():
                for who in callers:
                    cell = make_cell(world, route, who, rel)
                    want = expected(cell)
                    response = request(world, cell)
                    got = response.status_code
                    label = f"{route} {who} {rel}: expected {want}, got {got}"
                    if got < 300 <= want:
                        outcomes["unexpected allow"] += 1
                        failures.append(label)
                    elif want < 300 <= got:
                        outcomes["unexpected deny"] += 1
                        failures.append(label)
                    elif got != want:
                        outcomes["wrong refusal status"] += 1
                        failures.append(label)
                    leaked = leaks(world, cell, response.text)
                    if leaked:
                        outcomes["canary leak"] += 1
                        failures.append(f"{label}; leaked {len(leaked)}")
                    if cell.route == "get_case" and got == 200 and cell.case == "A":
                        missing = _missing(world, cell, response.json())
                        if missing:
                            outcomes["fact withheld from a reader who may see it"] += 1
                            failures.append(f"{label}; withheld {len(missing)}")
                    if got < 300:
                        restore(world, cell)
                    outcomes["cells"] += 1
        print(f"authorisation matrix: {outcomes['cells']} cells tested; {dict(outcomes)}")
        assert not failures, "\n".join(failures)
