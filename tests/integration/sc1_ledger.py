"""Scenario SC1 recorded straight through the ledger (no HTTP): the fixture of the read-side
and ledger tests, and the invented actors they use. ``caseledger demo`` plays its own
scenarios over HTTP instead (``demo``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger import CaseLedger, RequestContext
from policies import PartnerId, Principal, RoleId, UserId

PURPOSE = "zvh_joint_approach"


def actor(partner: str, role: str, user: str) -> RequestContext:
    principal = Principal(UserId(user), PartnerId(partner), frozenset({RoleId(role)}))
    return RequestContext(principal, PURPOSE)


REGIE = actor("zvh", "procesregisseur", "pr-anna")
CLERK = actor("zvh", "administratief_medewerker", "clerk-bo")
POLICE = actor("politie", "melder", "wijkagent-cas")
PROBATION = actor("reclassering", "deelnemer", "reclassering-dewi")
MENTAL_HEALTH = actor("ggz", "deelnemer", "ggz-eli")
HOUSING = actor("woningcorporatie", "deelnemer", "corporatie-fien")


@dataclass
class RecordedScenario:
    """Ids and plaintexts of what a scenario recorded (plaintexts to scan for)."""

    case_id: str
    subject_id: str
    facts: dict[str, tuple[RequestContext, str]] = field(default_factory=dict)
    plaintexts: list[str] = field(default_factory=list)


def record_sc1(ledger: CaseLedger) -> RecordedScenario:
    """SC1 Intake: police refer M; triaged in at AVE 3; three partners invited; facts."""
    case_id = ledger.open_case(
        REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=3
    ).case_id
    ledger.triage(REGIE, case_id, decision="accept", reason="stacked problems in 3 domains")
    ledger.decide_notification(REGIE, case_id, decision="inform", reason="no grounds to defer")
    subject_id = ledger.add_subject(REGIE, case_id, case_role="client").created_id
    assert subject_id is not None
    for org in ("reclassering", "ggz", "woningcorporatie"):
        ledger.invite_participant(REGIE, case_id, org=org)
    scenario = RecordedScenario(case_id, subject_id)

    def fact(
        who: RequestContext,
        label: str,
        kind: str,
        categories: list[str],
        level: str,
        partners: list[str],
        body: dict[str, Any],
    ) -> None:
        fact_id = ledger.record_fact(
            who,
            case_id,
            kind=kind,
            subjects=[subject_id],
            categories=categories,
            purpose=PURPOSE,
            legal_basis="wgs",
            sharing_level=level,
            sharing_partners=partners,
            body=body,
        ).created_id
        assert fact_id is not None
        scenario.facts[fact_id] = (who, label)
        scenario.plaintexts.extend(str(v) for v in body.values())

    fact(
        POLICE,
        "referral",
        "referral",
        ["safety_risk"],
        "regie",
        [],
        {"text": "Zorgmelding: M. Voorbeeld raakt de grip kwijt"},
    )
    fact(
        REGIE,
        "identity",
        "observation",
        ["identity"],
        "participants",
        [],
        {"name": "Mila Voorbeeld-Demo", "born": "1990-01-01"},
    )
    fact(
        MENTAL_HEALTH,
        "diagnosis",
        "observation",
        ["health"],
        "partners",
        ["reclassering"],
        {"text": "Diagnose: invented-condition-7Q"},
    )
    fact(
        POLICE,
        "arrests",
        "observation",
        ["criminal"],
        "partners",
        ["reclassering"],
        {"text": "Twee aanhoudingen wegens invented-offence-3Z"},
    )
    fact(
        HOUSING,
        "rent arrears",
        "observation",
        ["finance", "housing"],
        "participants",
        [],
        {"text": "Huurachterstand van 4 maanden (invented-amount-EUR-2417)"},
    )
    fact(
        REGIE,
        "shared starting point",
        "shared_starting_point",
        ["plan"],
        "participants",
        [],
        {"goal": "Gedeeld doel: stabiel wonen, behandeling, geen nieuwe delicten"},
    )
    ledger.agree_action(
        REGIE,
        case_id,
        assignee="woningcorporatie",
        what="Betalingsregeling voorstellen",
        due="2026-12-01",
    )
    ledger.agree_action(REGIE, case_id, assignee="ggz", what="Intake plannen", due="2026-12-08")
    return scenario
