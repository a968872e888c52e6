"""The docs/domain.md acceptance scenarios SC1-SC5, played over HTTP against a running server.

Invented data only. Each scenario records facts as the partners would, then asks every role
involved what it sees (and what it is refused) and prints the answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from demo._conference import conference
from demo._play import CLERK, JOINT, PO, PR, Play


def sc1_intake(play: Play) -> None:
    """SC1: police refer M; triaged in at AVE 3; three partners invited; need to know."""
    play.echo("SC1 Intake: the wijkagent refers M; AVE 3; reclassering, GGZ, corporation invited")
    play.open("politie", 3)
    police = ("politie", "melder")
    play.do(PR, play.path("/triage"), {"decision": "accept", "reason": "stacked problems"})
    play.do(PR, play.path("/notification"), {"decision": "inform", "reason": "no grounds"})
    m = play.subject("client", {"name": "M. Voorbeeld-Demo", "born": "1990-01-01"})
    for org in ("reclassering", "ggz", "woningcorporatie"):
        play.do(PR, play.path("/participants"), {"org": org})
    play.fact(
        ("ggz", "deelnemer"),
        "diagnosis",
        [m],
        ["health"],
        "Diagnose: invented-condition-7Q",
        "partners",
        ("reclassering",),
    )
    play.fact(
        police,
        "arrests",
        [m],
        ["criminal"],
        "Twee aanhoudingen (invented-3Z)",
        "partners",
        ("reclassering",),
    )
    play.fact(
        ("woningcorporatie", "deelnemer"),
        "rent arrears",
        [m],
        ["finance", "housing"],
        "Huurachterstand 4 maanden (invented-EUR-2417)",
    )
    play.fact(
        PR,
        "shared goal",
        [m],
        ["plan"],
        "Gedeeld doel: stabiel wonen",
        kind="shared_starting_point",
        content={"goal": "Gedeeld doel: stabiel wonen"},
    )
    play.do(
        CLERK,
        play.path("/actions"),
        {"assignee": "woningcorporatie", "what": "Betalingsregeling", "due": "2026-12-01"},
    )
    play.do(PR, play.path("/actions"), {"assignee": "ggz", "what": "Intake", "due": "2026-12-08"})
    for who in [
        ("woningcorporatie", "deelnemer"),
        ("reclassering", "deelnemer"),
        ("ggz", "deelnemer"),
        police,
        PR,
        CLERK,
        PO,
        ("gemeente", "deelnemer"),
    ]:
        play.show(who)
    diagnosis = next(f for f, label in play.labels.items() if label == "diagnosis")
    play.refuse(
        ("woningcorporatie", "deelnemer"),
        "correct GGZ's diagnosis",
        "POST",
        play.path(f"/facts/{diagnosis}/corrections"),
        {"body": {"text": "x"}},
    )
    play.refuse(
        CLERK,
        "record a fact",
        "POST",
        play.path("/facts"),
        {
            "kind": "observation",
            "subjects": [m],
            "categories": ["plan"],
            "purpose": JOINT,
            "legal_basis": "wgs",
            "sharing": {"level": "participants"},
            "body": {"text": "x"},
        },
    )
    play.refuse(
        ("ggz", "deelnemer"),
        "share a diagnosis with all participants",
        "POST",
        play.path("/facts"),
        {
            "kind": "observation",
            "subjects": [m],
            "categories": ["health"],
            "purpose": JOINT,
            "legal_basis": "wgs",
            "sharing": {"level": "participants"},
            "body": {"text": "x"},
        },
    )
    play.refuse(
        police,
        "read the case for a criminal investigation",
        "GET",
        play.path(),
        purpose="criminal_investigation",
    )
    play.refuse(("reclassering", "deelnemer"), "close the case", "POST", play.path("/close"), {})


def sc2_deferred(play: Play) -> None:
    """SC2: domestic violence; do not inform the suspect yet; review in four weeks."""
    play.echo("SC2 Deferred notification: Veilig Thuis refers; suspect A not informed for now")
    play.open("veilig_thuis", 3)
    vt = ("veilig_thuis", "deelnemer")
    play.do(PR, play.path("/triage"), {"decision": "accept", "reason": "acute risk"})
    review = (datetime.now(tz=UTC) + timedelta(weeks=4)).date().isoformat()
    play.do(
        PR,
        play.path("/notification"),
        {"decision": "defer", "reason": "risk to the victim", "review_at": review},
    )
    a, b = play.subject("suspect"), play.subject("victim")
    play.subject("child")
    play.fact(vt, "B's address", [b], ["contact"], "Adres B: Invented-straat 12", "owner")
    play.fact(vt, "B's statement", [b], ["safety_risk"], "Verklaring B (invented)", "regie")
    play.fact(vt, "risk posed by A", [a], ["safety_risk"], "Risico A (invented)", "regie")
    view = play.call(PO, "GET", play.path()).json()
    note = view["notification"]
    play.echo(
        f"  privacy officer: notification {note['decision']} until {note['review_at']}, "
        f"decided by {note['decided_by']}"
    )
    for who in [PR, vt, PO]:
        play.show(who)


def sc3_pollution(play: Play) -> None:
    """SC3: severe home pollution; fire brigade and inspection see their part only."""
    play.echo("SC3 Home pollution: GGD leads; fire brigade and building inspection join")
    play.open("ggd", 3, "housing_pollution")
    ggd, fire, bwt = ("ggd", "deelnemer"), ("brandweer", "deelnemer"), ("bwt", "deelnemer")
    play.do(PR, play.path("/triage"), {"decision": "accept", "reason": "health hazard"})
    for org in ("brandweer", "bwt"):
        play.do(PR, play.path("/participants"), {"org": org})
    s = play.subject("client")
    play.fact(ggd, "home visit", [s], ["housing"], "Huisbezoek: ernstige vervuiling (invented)")
    play.fact(ggd, "care note", [s], ["health"], "Zorgnotitie (invented-care-91)", "owner")
    play.fact(fire, "fire risk", [s], ["safety_risk"], "Brandrisico hoog (invented)")
    play.fact(bwt, "structural defect", [s], ["housing"], "Constructiefout (invented)")
    play.fact(
        PR, "decision: forced clean-out", [s], ["plan"], "Gedwongen ontruiming", kind="decision"
    )
    play.do(
        PR,
        play.path("/actions"),
        {"assignee": "brandweer", "what": "Inspectie", "due": "2026-12-03"},
    )
    for who in [fire, bwt, ggd, ("gemeente", "deelnemer")]:
        play.show(who)
    query = f"/v1/audit/entries?case={play.case_id}&decision=denied&org=gemeente"
    entries = play.call(PO, "GET", query)
    reasons = [e["reason"] for e in entries.json()["entries"]]
    play.echo(f"  access log, denied attempts by gemeente: {reasons}")


def sc4_aftercare(play: Play) -> None:
    """SC4: aftercare after detention; consent for housing and debts, then debts withdrawn."""
    play.echo("SC4 Aftercare: DJI shares detention dates; consent for housing and debts only")
    play.open("dji", 3, "aftercare_detention")
    dji, rec, gem = ("dji", "deelnemer"), ("reclassering", "deelnemer"), ("gemeente", "deelnemer")
    play.do(PR, play.path("/triage"), {"decision": "accept", "reason": "release in 2 weeks"})
    for org in ("reclassering", "gemeente"):
        play.do(PR, play.path("/participants"), {"org": org})
    s = play.subject("client")
    play.fact(
        dji,
        "detention dates",
        [s],
        ["enforcement"],
        "Detentie t/m (invented)",
        basis="legal_obligation",
    )
    consent = {"subject": s, "purpose": play.purpose, "recipients": ["gemeente"]}
    play.do(rec, play.path("/consents"), {**consent, "categories": ["housing"]})
    debts_consent = play.do(rec, play.path("/consents"), {**consent, "categories": ["finance"]})
    play.fact(rec, "housing need", [s], ["housing"], "Woonvraag (invented)", basis="consent")
    debts = play.fact(rec, "debts", [s], ["finance"], "Schulden (invented-EUR-9)", basis="consent")
    play.fact(rec, "care need", [s], ["care_need"], "Zorgvraag (invented)", basis="consent")
    play.show(gem, " (before withdrawal)")
    play.do(rec, play.path(f"/consents/{debts_consent['consent_id']}/withdrawal"), {})
    withdrawn_at = datetime.now(tz=UTC).isoformat()
    play.show(gem, " (after withdrawal)")
    entries = play.call(
        PO,
        "GET",
        f"/v1/audit/entries?case={play.case_id}&org=gemeente"
        f"&decision=allowed&from={withdrawn_at.replace('+', '%2B')}",
    ).json()
    reads = [e for e in entries["entries"] if debts in e["fact_ids"]]
    play.echo(f"  access log: debt reads by gemeente after the withdrawal: {len(reads)}")


def sc5_closure(play: Play) -> None:
    """SC5: AVE 2 -> 3 -> 2, closed; participants see nothing; keys shredded."""
    play.echo("SC5 Escalation and closure: AVE 2 -> 3 -> 2, closed, erased after retention")
    play.open("politie", 2)
    police = ("politie", "melder")
    play.do(PR, play.path("/triage"), {"decision": "accept", "reason": "question"})
    play.do(PR, play.path("/participants"), {"org": "gemeente"})
    s = play.subject("client")
    play.fact(police, "police report", [s], ["safety_risk"], "Politierapport (invented-77)")
    play.do(PR, play.path("/phase"), {"phase": 3, "reason": "police report"})
    play.fact(("gemeente", "deelnemer"), "support plan", [s], ["plan"], "Steunplan (invented)")
    play.do(PR, play.path("/phase"), {"phase": 2, "reason": "stable"})
    play.show(police, " (active)")
    play.do(PR, play.path("/close"), {"reason": "goals reached"})
    for who in [police, ("gemeente", "deelnemer"), PO]:
        play.show(who, " (closed)")
    # SC5: at closing + 2 years the retention run shreds the case (simulated time).
    later = (datetime.now(tz=UTC) + timedelta(days=2 * 366)).isoformat()
    run = play.do(PO, "/v1/retention/run", {"now": later})
    (erased,) = [e for e in run["erasures"] if e["target_id"] == play.case_id]
    certificate = play.call(PO, "GET", f"/v1/erasures/{erased['erasure_id']}").json()
    document = certificate["certificate"]["document"]
    play.echo(
        f"  retention run at closing + 2 years: {document['destroyed']['scope_keys']} scope keys"
        " destroyed, "
        f"{len(document['unreadable_fact_ids'])} facts unreadable"
    )
    play.show(PO, " (erased)")
    log = play.call(PO, "GET", f"/v1/audit/entries?case={play.case_id}&limit=1000").json()
    who_saw = sorted({e["org"] for e in log["entries"] if e["decision"] == "allowed"})
    play.echo(f"  who saw this case (still answerable): {', '.join(who_saw)}")


SCENARIOS = [sc1_intake, sc2_deferred, sc3_pollution, sc4_aftercare, sc5_closure, conference]
