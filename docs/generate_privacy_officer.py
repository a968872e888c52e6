"""Generate docs/privacy-officer.md: each of the ten privacy-officer questions of docs/domain.md
with a worked example, answered from the demo data.

The demo data are the docs/domain.md scenarios SC1-SC5 as the acceptance tests play them
(``tests/scenarios/world.py``, ``play_all``): a fresh SQLite data directory in a temporary
directory, the API in-process (FastAPI ``TestClient``) with a simulated clock that starts at
2026-03-02T09:00Z. Every request shown is sent for real and every answer is the one it got;
the CLI examples run the ``caseledger`` commands against the same data directory.

Run from the repository root (nothing else is needed; the temporary data are removed):

    .venv/bin/python docs/generate_privacy_officer.py [OUTPUT]   # default docs/privacy-officer.md
"""

# ruff: noqa: E402  (the repository root goes on sys.path before the project imports)
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli, cli_privacy
from api._tokens import create_local_signing_key
from api.app import create_app
from api.settings import Settings
from ledger import verify_document
from policies import sample_covenant_path
from tests.api.support import Auth
from tests.scenarios.world import (
    META,
    PO,
    Http,
    ScenarioClock,
    World,
    officer_request,
    play_all,
)

DOC = ROOT / "docs" / "privacy-officer.md"
SCRIPT = "docs/generate_privacy_officer.py"
METADATA = "privacy_officer_metadata"


# -- rendering helpers ------------------------------------------------------------------------


def trimmed(value: Any, *, items: int = 4) -> Any:
    """A copy of a JSON value with long lists cut short (the cut is stated)."""
    if isinstance(value, dict):
        return {k: trimmed(v, items=items) for k, v in value.items()}
    if isinstance(value, list):
        head = [trimmed(v, items=items) for v in value[:items]]
        if len(value) > items:
            head.append(f"... {len(value) - items} more")
        return head
    return value


def json_block(value: Any, *, items: int = 4) -> str:
    text = json.dumps(trimmed(value, items=items), indent=2, ensure_ascii=False)
    return f"```json\n{text}\n```"


def code(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def table(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(c).replace("|", "\\|") if c not in (None, "") else "" for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curl(method: str, path: str, body: Any = None, accept: str | None = None) -> str:
    lines = [f'curl -s{" -X " + method if method != "GET" else ""} "$CASELEDGER_URL{path}" \\']
    lines.append('  -H "Authorization: Bearer $PO_TOKEN" -H "X-Purpose: accountability"')
    if accept:
        lines[-1] += " \\"
        lines.append(f'  -H "Accept: {accept}"')
    if body is not None:
        lines[-1] += " \\"
        lines.append(f"  -H \"Content-Type: application/json\" -d '{json.dumps(body)}'")
    return code("\n".join(lines), "sh")


@dataclass
class Doc:
    """The world, the officer's HTTP session, and labels for the ids it shows."""

    world: World
    data_dir: Path
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for case in self.world.cases:
            self.labels[case.case_id] = case.name
            for label, subject_id in case.subjects.items():
                self.labels[subject_id] = f"{label} ({case.name})"
            for label, fact_id in case.facts.items():
                self.labels[fact_id] = f"{case.name} {label}"

    @property
    def http(self) -> Http:
        return self.world.http

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.client.get(path, params=params, headers=self._headers())
        assert response.status_code == 200, (path, response.text)
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        response = self.http.client.post(path, json=body, headers=self._headers())
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    def _headers(self) -> dict[str, str]:
        return self.http.auth.headers(PO, META)

    def name(self, some_id: str) -> str:
        return self.labels.get(some_id, some_id[:8] if some_id else "")

    def facts(self, fact_ids: Iterable[str]) -> str:
        return ", ".join(self.name(f) for f in fact_ids)

    def cli(self, *args: str) -> str:
        """Run ``caseledger ARGS --data-dir DIR`` and return what it printed."""
        command = [*args, "--data-dir", str(self.data_dir)]
        env = {k: "" for k in os.environ if k.startswith("CASELEDGER_")}
        result = CliRunner().invoke(cli.app, command, env=env)
        assert result.exit_code == 0, (command, result.output)
        return result.output

    def cli_block(self, *args: str, lines: int = 12) -> str:
        output = self.cli(*args).rstrip().splitlines()
        shown = output[:lines] + (
            [f"... ({len(output) - lines} more lines)"] if len(output) > lines else []
        )
        command = "caseledger " + " ".join(args)
        return code("$ " + command + "\n" + "\n".join(shown), "console")


Section = Callable[[Doc], list[str]]


def entry_rows(doc: Doc, entries: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            e["seq"],
            e["time"][:23],
            e["actor"],
            e["org"],
            e["role"],
            e["on_behalf_of"],
            e["purpose"],
            doc.name(e["case_id"]),
            doc.facts(e["fact_ids"]),
            e["decision"],
            e["reason"] + (" (EMERGENCY)" if e["emergency"] else ""),
        ]
        for e in entries
    ]


ENTRY_HEADER = [
    "seq",
    "time (UTC)",
    "actor",
    "org",
    "role",
    "on behalf of",
    "purpose",
    "case",
    "facts",
    "decision",
    "reason",
]


# -- the ten questions ------------------------------------------------------------------------


def q1(doc: Doc) -> list[str]:
    case = doc.world.sc1
    subject = case.subjects["M"]
    path = f"/v1/audit/entries?subject={subject}"
    entries = doc.get("/v1/audit/entries", subject=subject, limit=1000)["entries"]
    content = [e for e in entries if e["reason"] != METADATA and e["outcome"] == "ok"]
    return [
        "Filter the access log by the subject. The filter takes the subject id; the log itself "
        "holds only its keyed pseudonym (`subject`), never the id. Other filters: `case`, "
        "`actor`, `org`, `purpose`, `decision`, `reason`, `emergency`, `from`, `to`; page with "
        "`cursor` (the previous answer's `next`).",
        curl("GET", path),
        f"Answer for M (SC1): {len(entries)} entries; the first one as returned:",
        json_block(entries[0]),
        "All reads and refusals that showed or withheld M's facts (the privacy officer's own "
        "metadata-only reads, reason `privacy_officer_metadata`, left out):",
        table(ENTRY_HEADER, entry_rows(doc, content)),
        "The same from the command line, in NEN 7513 field names (also `--shape ldv` for "
        "Logboek Dataverwerkingen, `--format csv` or `table`):",
        doc.cli_block(
            "audit",
            "query",
            "--subject",
            subject,
            "--decision",
            "allowed",
            "--format",
            "jsonl",
            "--shape",
            "nen7513",
            lines=3,
        ),
    ]


def q2(doc: Doc) -> list[str]:
    case = doc.world.sc1
    path = f"{case.path()}/subjects/{case.subjects['M']}/access-report"
    report = doc.get(path)
    return [
        "The access report (AVG art. 15) lists the recipients: every partner that was shown one "
        "of the person's facts, counted from the access log (the privacy officer's metadata "
        "reads and the compilation of reports are not disclosures and do not count).",
        curl("GET", path),
        "The `recipients` of M's report:",
        json_block(report["recipients"], items=10),
        "`woningcorporatie` is a recipient of the diagnosis and the arrests only through the "
        "emergency access of Q4; `zvh` is the partnership office (the procesregisseur). "
        "For every read behind a count: `GET /v1/audit/entries?subject=...&decision=allowed`.",
    ]


def q3(doc: Doc) -> list[str]:
    case = doc.world.sc4
    fact_id = case.facts["housing need"]
    view = doc.get(case.path())
    meta = next(f for f in view["facts"] if f["fact_id"] == fact_id)
    path = f"{case.path()}/subjects/{case.subjects['D']}/access-report"
    report = doc.get(path)
    reported = next(f for f in report["facts"] if f["fact_id"] == fact_id)
    return [
        "The privacy officer's view of a case (`GET /v1/cases/{case}` for the purpose "
        "`accountability`) is metadata only: every fact with its owner (the source), kind, "
        "categories, purpose, sharing and time, and never a body. The legal basis and the "
        "retention deadline are in the access report of the fact's subject.",
        curl("GET", case.path()),
        f"The fact `{doc.name(fact_id)}` in that view:",
        json_block(meta),
        curl("GET", path),
        "The same fact in the access report of D (its content is there because the report is "
        "for D, about D alone):",
        json_block({k: v for k, v in reported.items() if k != "body"} | {"body": "(D's own text)"}),
        "Owner and source: `reclassering`; legal basis: `consent` (the consent for housing is "
        "still in force, so no retention deadline yet: `retention_until` is null while the "
        "case is active); categories: `housing`; purpose: `aftercare_detention`.",
    ]


def q4(doc: Doc) -> list[str]:
    special: dict[str, set[str]] = {}
    for case in doc.world.cases:
        for fact in doc.get(case.path())["facts"]:
            if {"health", "criminal"} & set(fact["categories"]):
                special[fact["fact_id"]] = {fact["owner"], *fact["sharing"].get("partners", [])}
    allowed = doc.get("/v1/audit/entries", decision="allowed", limit=1000)["entries"]
    outside = [
        e
        for e in allowed
        if e["reason"] != METADATA
        and e["outcome"] == "ok"
        and any(f in special and e["org"] not in special[f] for f in e["fact_ids"])
    ]
    pending = doc.get("/v1/reviews/emergency")["accesses"]
    service = doc.http.office.special_category_exposure(officer_request())
    first = pending[0]["grant_id"]
    outcome = {"outcome": "justified"}
    reviewed = doc.post(f"/v1/reviews/emergency/{first}", outcome)
    for access in pending[1:]:
        doc.post(f"/v1/reviews/emergency/{access['grant_id']}", outcome)
    return [
        "Art. 9/10 facts (categories `health`, `criminal`) may only reach their owner and the "
        "partners it named. Compare the sharing in the metadata view with the access log's "
        "allowed reads; every read outside the named partners must be an emergency access.",
        curl("GET", "/v1/cases/{case}") + "\n" + curl("GET", "/v1/audit/entries?decision=allowed"),
        "Special-category facts in the demo data and who may read them: "
        + "; ".join(f"{doc.name(f)}: {', '.join(sorted(o))}" for f, o in special.items())
        + ".",
        "Reads outside those partners:",
        table(ENTRY_HEADER, entry_rows(doc, outside)),
        "Both facts were shown by one emergency access (break the glass, `X-Emergency-Reason`). "
        "The review list shows it (the case entry and the fact entry) with the stated reason:",
        curl("GET", "/v1/reviews/emergency"),
        json_block(pending, items=2),
        "The privacy office's own check (`PrivacyOffice.special_category_exposure`) finds the "
        f"same {len(service)} reads, each flagged `emergency` with the stated reason. "
        "The review records an outcome (`justified`, or `not_justified` with a remark, which "
        "names whom to inform) and is itself logged (decision `reviewed`):",
        curl("POST", f"/v1/reviews/emergency/{first}", outcome),
        json_block(reviewed),
        "Only emergency accesses: `GET /v1/audit/entries?emergency=true`.",
    ]


def q5(doc: Doc) -> list[str]:
    denied = doc.get("/v1/audit/entries", decision="denied", limit=1000)["entries"]
    whole = [e for e in denied if not e["fact_ids"]]
    counts = Counter((doc.name(e["case_id"]), e["org"], e["reason"]) for e in denied)
    explained = {
        "purpose_incompatible": "declared purpose not compatible (criminal investigation)",
        "not_participant": "the partner is not a participant of the case",
        "case_closed": "the case is closed",
        "erased": "the fact was erased",
        "retention_expired": "past its retention deadline (a withdrawn consent)",
        "consent_absent_or_withdrawn": "no consent covers this reader",
        "sharing_excludes_reader": "the owner did not share it with this reader",
        "role_excludes_facts": "the clerk never sees facts",
    }
    return [
        "Denied reads are logged like allowed ones, with the reason code of the decision. A "
        "refused case (answered 404, like an unknown case) is one entry without facts; facts "
        "withheld from an allowed view are entries with the facts' ids.",
        curl("GET", "/v1/audit/entries?decision=denied"),
        "Refused case reads in the demo data:",
        table(ENTRY_HEADER, entry_rows(doc, whole)),
        "All denials, counted by case, partner and reason:",
        table(
            ["case", "org", "reason", "entries", "meaning"],
            [[c, o, r, n, explained.get(r, "")] for (c, o, r), n in sorted(counts.items())],
        ),
        "One reason at a time, from the command line:",
        doc.cli_block("audit", "query", "--decision", "denied", "--reason", "not_participant"),
    ]


def q6(doc: Doc) -> list[str]:
    case = doc.world.sc4
    debts, moment = case.facts["debts"], case.moments["withdrawn"].isoformat()
    after = doc.get(
        "/v1/audit/entries", case=case.case_id, decision="allowed", limit=1000, **{"from": moment}
    )["entries"]
    before = doc.get(
        "/v1/audit/entries", case=case.case_id, decision="allowed", limit=1000, to=moment
    )["entries"]
    reads_before = [e for e in before if debts in e["fact_ids"] and e["reason"] != METADATA]
    reads_after = [e for e in after if debts in e["fact_ids"] and e["reason"] != METADATA]
    service = doc.http.office.reads_after_withdrawal(officer_request())
    encoded = moment.replace("+", "%2B")
    return [
        "SC4: the detainee's consent for debts (`finance`) was withdrawn at "
        f"`{moment}`. Ask for the case's allowed reads from that moment and look for the "
        "consent-based facts it covered (here the debts fact):",
        curl("GET", f"/v1/audit/entries?case={case.case_id}&decision=allowed&from={encoded}"),
        table(
            ["", "reads of the debts fact"],
            [
                [
                    "before the withdrawal",
                    ", ".join(sorted({e["org"] for e in reads_before}))
                    + f" ({len(reads_before)} entries)",
                ],
                ["from the withdrawal on", f"{len(reads_after)} entries"],
            ],
        ),
        f"Expected and found: none after. The privacy office's own check "
        f"(`PrivacyOffice.reads_after_withdrawal`, over every consent-based fact of every case) "
        f"returns `{json.dumps(service)}`.",
    ]


def q7(doc: Doc) -> list[str]:
    today = doc.post("/v1/retention/run", {"dry_run": True})
    closed = doc.world.sc5.moments["closed"]
    later = (closed.replace(year=closed.year + 2) + timedelta(days=1)).isoformat()
    then = doc.post("/v1/retention/run", {"dry_run": True, "now": later})
    return [
        "A dry run of retention says what is due now (past its deadline, not yet erased) and "
        "which legal holds are in force (`suspends_erasure`: whether the hold is what keeps a "
        "due case); `now` evaluates as of a later moment. Nothing is erased.",
        curl("POST", "/v1/retention/run", {"dry_run": True}),
        json_block(today),
        "Nothing is due today (the withdrawn debts were erased by the last run, see Q8); SC3 "
        "carries a hold because of a complaint. As of two years and a day after SC5 closed:",
        curl("POST", "/v1/retention/run", {"dry_run": True, "now": later}),
        json_block(then),
        "The same from the command line (without `--dry-run` it erases; on a terminal it "
        "shows progress):",
        doc.cli_block("retention", "run", "--dry-run", "--now", later),
    ]


def q8(doc: Doc) -> list[str]:
    [erasure] = doc.world.notes["retention_run"]["erasures"]
    path = f"/v1/erasures/{erasure['erasure_id']}"
    signed = doc.get(path)["certificate"]
    valid = verify_document(signed, doc.http.services.access_log.keys.public_key_b64())
    document = signed["document"]
    return [
        "Every erasure (a request `POST /v1/erasures`, or a retention run) has a certificate "
        "signed with the access log's Ed25519 key: which keys were destroyed when, which facts "
        "became unreadable, the erasure epoch that made it final (old key-encryption-key "
        "versions destroyed), and what remains (backups of the key store taken before the "
        "erasure, until they expire). It holds ids and counts only.",
        "The retention run of the demo erased SC4's debts fact (ground `consent_withdrawn`):",
        curl("GET", path),
        json_block(signed, items=3),
        "Checking the signature (for example by a supervisor, with the log's public key):",
        code(
            "from ledger import verify_document\n\n"
            "verify_document(certificate, public_key_b64)  # -> " + str(valid),
            "python",
        ),
        f"Unreadable now: {doc.facts(document['unreadable_fact_ids'])}. What remains: the "
        "fact's metadata (owner, kind, categories: the privacy officer's view still lists it, "
        "without content) and every access-log entry that names it, so who saw it can still "
        "be answered (Q1).",
    ]


def q9(doc: Doc) -> list[str]:
    pending = doc.get("/v1/reviews/notifications")
    informed = []
    for case in doc.world.cases:
        note = doc.get(case.path())["notification"]
        informed.append(
            [case.name, note["decision"], note["decided_by"], note["decided_at"], note["review_at"]]
        )
    return [
        "The notification review lists every open case whose subjects were not (yet) informed: "
        "deferrals with who decided, why (the reason is opened for the privacy officer) and "
        "the review date; undecided cases; overdue first.",
        curl("GET", "/v1/reviews/notifications"),
        json_block(pending),
        "For every case, the decision is also in the metadata view (`notification`, without "
        "the reason):",
        table(["case", "decision", "decided by", "decided at", "review at"], informed),
    ]


def q10(doc: Doc) -> list[str]:
    verdict = doc.get("/v1/audit/verify")
    return [
        "The access log is a keyed hash chain with signed checkpoints. Verification recomputes "
        "the chain and checks every checkpoint: a changed, removed, reordered or inserted entry "
        "is reported with the first bad sequence number.",
        curl("GET", "/v1/audit/verify"),
        json_block(verdict),
        doc.cli_block("audit", "verify"),
        "`caseledger audit checkpoint --export FILE` writes a signed checkpoint for a partner to "
        "keep; `caseledger audit verify --witness FILE` then also detects a rolled-back log.",
    ]


QUESTIONS: list[tuple[str, Section]] = [
    ("Who accessed which facts about subject X: when, role, on whose behalf, purpose, case?", q1),
    ("Which organisations received or saw X's data (art. 15 recipients)?", q2),
    ("For fact F: owner, legal basis, categories, source?", q3),
    (
        "Were art. 9/10 facts shown outside their allowed readers? Any emergency access, and why?",
        q4,
    ),
    ("Which reads were denied, and why (purpose, not a participant, closed case, erased)?", q5),
    ("Were consent-based facts read after withdrawal? (expected: never)", q6),
    ("Which cases are past retention but not erased, and which holds exist?", q7),
    (
        "Proof of erasure: which keys were destroyed when, what became unreadable, what remains?",
        q8,
    ),
    ("Was each subject informed? If deferred: who decided, why, until when?", q9),
    ("Is the access log intact (no entry changed, removed or inserted)?", q10),
]


# -- the document -------------------------------------------------------------------------


def introduction(doc: Doc) -> list[str]:
    rows = []
    for case in doc.world.cases:
        view = doc.get(case.path())
        subjects = ", ".join(f"{label} `{sid}`" for label, sid in case.subjects.items())
        rows.append([case.name, f"`{case.case_id}`", view["purpose"], view["status"], subjects])
    return [
        "# Privacy officer: answering the ten questions",
        f"_Generated by `{SCRIPT}` from the demo data; do not edit by hand. Regenerate with "
        f"`.venv/bin/python {SCRIPT}` (ids and times change on every run)._",
        "The partnership's privacy officer (FG, role `privacy_officer` at the partnership "
        "office `zvh`) answers each question of docs/domain.md (\"The privacy officer's ten "
        'questions") from the ledger itself, over HTTP or with the `caseledger` command '
        "line, without ever seeing case content: every request below declares the purpose "
        "`accountability`, which the covenant discloses as metadata only. The access report "
        "(Q2, Q3) is the one exception the law requires: it opens the facts that concern the "
        "person alone, for that person. Queries of the access log, access reports, the "
        "notification review and review marks are themselves logged.",
        "## Setting up",
        code(
            "export CASELEDGER_URL=http://127.0.0.1:8000\n"
            "export PO_TOKEN=$(caseledger token --sub fg-1 --org zvh --role privacy_officer)",
            "sh",
        ),
        "Every request carries `Authorization: Bearer $PO_TOKEN` and `X-Purpose: accountability`"
        "; any other role or purpose is refused (403). The CLI commands read the data directory "
        "directly (`--data-dir`, or `CASELEDGER_DATA_DIR`).",
        "## The demo data",
        "The docs/domain.md scenarios as the acceptance tests play them "
        "(`tests/scenarios/world.py`): "
        "SC1 intake (M), SC2 deferred notification (suspect A, victim B, child C), SC3 home "
        "pollution (S), SC4 aftercare after detention (D), SC5 escalation and closure (E); "
        "every role looked at its cases. Then: reclassering read SC1 on behalf of its "
        "casusregisseur; the police tried to read SC1 for a criminal investigation; the "
        "housing corporation broke the glass on SC1; the municipality tried to read SC3; the "
        "debt consent in SC4 was withdrawn; SC5 and SC3 were closed and a complaint put a "
        "legal hold on SC3; a day later the privacy officer ran retention. All data is "
        "invented; `[CANARY-...]` markers in texts are test markers.",
        table(["case", "case id", "purpose", "status", "subjects (subject ids)"], rows),
    ]


def build(data_dir: Path) -> str:
    settings = Settings(data_dir=data_dir)
    data_dir.mkdir(parents=True)
    shutil.copyfile(str(sample_covenant_path()), settings.covenant_file)
    create_local_signing_key(settings)
    if "query" not in {c.name for c in cli.audit_app.registered_commands}:
        print(
            "note: mounting `caseledger audit query` and `retention run` (api/cli_privacy.py)"
            " for this run; api/cli.py does not mount them yet",
            file=sys.stderr,
        )
        cli_privacy.register(cli.audit_app, cli.app)
    clock = ScenarioClock()
    with TestClient(create_app(settings, clock=clock)) as client:
        world = play_all(Http(client, Auth(settings), clock))
        doc = Doc(world, data_dir)
        parts = introduction(doc)
        for number, (question, section) in enumerate(QUESTIONS, start=1):
            parts.append(f"## Q{number}. {question}")
            parts.extend(section(doc))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else DOC
    with tempfile.TemporaryDirectory(prefix="caseledger-doc-") as tmp:
        text = build(Path(tmp) / "data")
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
