"""The privacy officer's desk: access reports, retention runs, erasure certificates, reviews.

Everything here reads for the ``accountability`` purpose and goes through the same policy
functions and access log as every other read. Content is opened only for an access report,
and only for facts that concern the requesting subject alone (AVG art. 15(4)).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger import CaseNotFoundError, ErasureRequestNotFoundError, RequestContext
from ledger._audit import AccessEntry, sign_document
from policies import (
    Covenant,
    Disclosure,
    SubjectId,
    case_retention_deadline,
    decide_case_read,
    decide_subject_report,
    decide_supervision,
    fact_retention_deadline,
    is_expired,
    is_on_hold,
)
from projections._views import ReadDeniedError, ReadRequest, ReadService

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReportFact:
    fact_id: str
    owner: str
    kind: str
    categories: tuple[str, ...]
    purpose: str
    recorded_at: str
    retention_until: str | None
    body: Any | None
    withheld_reason: str | None = None
    legal_basis: str = ""


@dataclass(frozen=True, slots=True)
class Recipient:
    org: str
    reads: int
    first_read: str
    last_read: str


@dataclass(frozen=True, slots=True)
class AccessReport:
    subject_id: str
    case_id: str
    generated_at: str
    facts: tuple[ReportFact, ...]
    recipients: tuple[Recipient, ...]
    notification: dict[str, Any] | None
    erased_facts: int

    def by_owner(self) -> dict[str, list[ReportFact]]:
        grouped: dict[str, list[ReportFact]] = {}
        for fact in self.facts:
            grouped.setdefault(fact.owner, []).append(fact)
        return grouped


@dataclass(frozen=True, slots=True)
class RetentionReport:
    now: str
    dry_run: bool
    erasures: tuple[dict[str, Any], ...]
    holds: tuple[dict[str, Any], ...]


@dataclass
class _Due:
    case_erasures: list[str] = field(default_factory=list)
    fact_erasures: list[tuple[str, str]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)


class PrivacyOffice:
    """The privacy officer's operations on top of the one read pipeline."""

    def __init__(self, reads: ReadService, *, key_store_backup_days: int = 35) -> None:
        self.reads = reads
        self.ledger = reads.ledger
        self.views = reads.views
        self.log = reads.access_log
        self.clock = reads.clock
        self.backup_days = key_store_backup_days

    @property
    def covenant(self) -> Covenant:
        """The read service's covenant (one place: a reload swaps it there)."""
        return self.reads.covenant

    # -- AVG art. 15 ----------------------------------------------------------------------

    def access_report(self, request: ReadRequest, case_id: str, subject_id: str) -> AccessReport:
        """Everything about one subject in one case, per owner, with its recipients."""
        now = self.clock()
        snapshot = self.reads.snapshot(case_id)
        case_decision = decide_case_read(
            self.covenant, request.principal, request.purpose, snapshot.state, now
        )
        known = self.views.fetch(
            "SELECT 1 FROM cl_subjects WHERE case_id = ? AND subject_id = ?", (case_id, subject_id)
        )
        if not case_decision.allowed or not known:
            self.reads.log_case_read(request, now, case_id, case_decision)
            raise ReadDeniedError("case not found")
        candidates = [
            f for f in self.reads.fact_candidates(case_id) if SubjectId(subject_id) in f.subjects
        ]
        decisions = [
            (
                f,
                decide_subject_report(
                    self.covenant,
                    request.principal,
                    request.purpose,
                    f,
                    SubjectId(subject_id),
                    snapshot.state,
                    now,
                ),
            )
            for f in candidates
        ]
        pseudonym = self.log.pseudonym(subject_id)
        entries = [
            AccessEntry(
                actor=request.principal.user,
                org=request.principal.partner,
                role=request.role,
                purpose=request.purpose,
                case_id=case_id,
                decision="allowed" if d.allowed else "denied",
                reason=str(d.reason),
                fact_ids=(f.fact_id,),
                subject=pseudonym,
                on_behalf_of=request.principal.on_behalf_of or "",
                outcome="access_report",
                trace_id=request.trace_id,
                covenant=self.covenant.reference,
            )
            for f, d in decisions
        ] or [self.reads.case_entry(request, case_id, case_decision)]
        self.log.append(entries, now=now)  # the report itself is a logged processing
        content = [f.fact_id for f, d in decisions if d.allowed]
        bodies = self.reads.open_for_subject_access(case_id, subject_id, content)
        facts = tuple(
            ReportFact(
                fact_id=f.fact_id,
                owner=f.owner,
                kind=f.kind,
                categories=tuple(sorted(f.categories)),
                purpose=f.purpose,
                recorded_at=f.recorded_at.isoformat(),
                retention_until=_iso(fact_retention_deadline(self.covenant, f, snapshot.state)),
                body=bodies.get(f.fact_id) if d.allowed else None,
                withheld_reason=None if d.allowed else str(d.reason),
                legal_basis=f.legal_basis,
            )
            for f, d in decisions
            if not f.erased and not f.retracted
        )
        return AccessReport(
            subject_id=subject_id,
            case_id=case_id,
            generated_at=now.isoformat(),
            facts=facts,
            recipients=tuple(self._recipients(pseudonym, case_id)),
            notification=self.reads.notification(snapshot, case_id),
            erased_facts=sum(1 for f, _ in decisions if f.erased or f.retracted),
        )

    def _recipients(self, pseudonym: str, case_id: str) -> list[Recipient]:
        rows = self.log.database_fetch(
            "SELECT org, COUNT(*), MIN(time), MAX(time) FROM access_log WHERE subject = ?"
            " AND case_id = ? AND decision = 'allowed' AND outcome = 'ok'"
            " AND reason NOT IN ('privacy_officer_metadata', 'allowed_owner_metadata')"
            " GROUP BY org ORDER BY org",
            (pseudonym, case_id),
        )
        return [Recipient(str(o), int(n), str(first), str(last)) for o, n, first, last in rows]

    # -- retention ------------------------------------------------------------------------

    def run_retention(
        self,
        request: ReadRequest,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> RetentionReport:
        """Apply the covenant's retention rules; idempotent; legal holds suspend."""
        at = now or self.clock()
        self._require_officer(request)
        self.reads.runner.catch_up()
        due = self._due(at)
        erasures: list[dict[str, Any]] = []
        total = len(due.case_erasures) + len(due.fact_erasures)
        ctx = RequestContext(request.principal, request.purpose)
        for n, case_id in enumerate(due.case_erasures, start=1):
            if dry_run:
                erasures.append({"scope": "case", "case_id": case_id, "ground": "retention"})
            else:
                report = self.ledger.erase_case(ctx, case_id, ground="retention")
                erasures.append(self._summary(report.erasure_id, "case", case_id, "retention"))
            if progress:
                progress(n, total)
        for n, (case_id, fact_id) in enumerate(due.fact_erasures, start=len(due.case_erasures) + 1):
            if dry_run:
                erasures.append(
                    {
                        "scope": "fact",
                        "case_id": case_id,
                        "fact_id": fact_id,
                        "ground": "consent_withdrawn",
                    }
                )
            else:
                report = self.ledger.erase_fact(ctx, case_id, fact_id, ground="consent_withdrawn")
                erasures.append(
                    self._summary(report.erasure_id, "fact", fact_id, "consent_withdrawn")
                )
            if progress:
                progress(n, total)
        self.reads.runner.catch_up()
        return RetentionReport(at.isoformat(), dry_run, tuple(erasures), tuple(due.holds))

    def _due(self, now: datetime) -> _Due:
        due = _Due()
        rows = self.views.fetch(
            "SELECT case_id FROM cl_cases WHERE status <> 'erased' ORDER BY case_id"
        )
        for (case_id,) in rows:
            snapshot = self.reads.snapshot(str(case_id), catch_up=False)
            state = snapshot.state
            deadline = case_retention_deadline(self.covenant, state)
            if is_on_hold(state, now):
                in_force = [
                    h for h in state.legal_holds if h.lifted_at is None or now < h.lifted_at
                ]
                past_due = deadline is not None and now >= deadline
                due.holds.append(
                    {
                        "case_id": str(case_id),
                        "due_since": deadline.isoformat() if deadline and past_due else None,
                        "suspends_erasure": past_due,
                        "holds": [h.reason_code for h in in_force],
                        "hold_ids": [h.hold_id for h in in_force],
                    }
                )
                continue
            if deadline is not None and now >= deadline:
                due.case_erasures.append(str(case_id))
                continue
            for fact in self.reads.fact_candidates(str(case_id)):
                if not fact.erased and is_expired(self.covenant, fact, state, now):
                    due.fact_erasures.append((str(case_id), fact.fact_id))
        return due

    def _summary(self, erasure_id: str, scope: str, target: str, ground: str) -> dict[str, Any]:
        return {"erasure_id": erasure_id, "scope": scope, "target_id": target, "ground": ground}

    # -- erasure certificates -------------------------------------------------------------

    def certificate(self, erasure_id: str) -> dict[str, Any]:
        """The signed erasure certificate (ids and counts only, no personal data)."""
        self.reads.runner.catch_up()
        rows = self.views.fetch(
            "SELECT case_id FROM cl_erasures WHERE erasure_id = ? ORDER BY case_id", (erasure_id,)
        )
        if not rows:
            raise CaseNotFoundError("erasure not found")
        case_ids = [str(r[0]) for r in rows]
        record = next(
            e for e in self.ledger.get_case(case_ids[0]).erasures if e["erasure_id"] == erasure_id
        )
        erased_at = datetime.fromisoformat(record["erased_at"])
        fact_ids = sorted(
            {
                f
                for case_id in case_ids
                for e in self.ledger.get_case(case_id).erasures
                if e["erasure_id"] == erasure_id
                for f in e["fact_ids"]
            }
        )
        document = {
            "certificate_version": 1,
            "erasure_id": erasure_id,
            "scope": record["scope"],
            "target_id": record["target_id"],
            "ground": record["ground"],
            "requested_by": record["requested_by"],
            "on_behalf_of": record["on_behalf_of"],
            **self._four_eyes(erasure_id),
            "erased_at": record["erased_at"],
            "cases": case_ids,
            "destroyed": {
                "scope_key_ids": record["scope_key_ids"],
                "fact_key_ids": record["fact_key_ids"],
                "scope_keys": len(record["scope_key_ids"]),
                "fact_keys": len(record["fact_key_ids"]),
            },
            "unreadable_fact_ids": fact_ids,
            "projections_updated": {"position": self.reads.runner.position, "applied": True},
            "epoch": record["epoch"],
            "residual": {
                "statement": (
                    "Key-store and keyring backups taken before erased_at can still open the "
                    "erased data until they expire; event-store backups of any age cannot."
                ),
                "key_store_backups_before": record["erased_at"],
                "expire_by": (erased_at + timedelta(days=self.backup_days)).isoformat(),
            },
        }
        return sign_document(self.log.keys, document)

    def _four_eyes(self, erasure_id: str) -> dict[str, Any]:
        """For an erasure carried out on confirmation: who asked, who confirmed, when."""
        try:
            request = self.ledger.get_erasure_request(erasure_id)
        except ErasureRequestNotFoundError:
            return {}
        return {
            "requested_by": request.requested_by,
            "requested_at": _iso(request.requested_at),
            "confirmed_by": request.confirmed_by,
            "confirmed_at": _iso(request.confirmed_at),
        }

    # -- reviews --------------------------------------------------------------------------

    def notification_review(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Cases where the subject was not (yet) informed: deferrals and undecided, overdue
        first (DOMAIN.md Q9), with the outcome of the deferral's review once reviewed."""
        self._require_officer(request)
        self.reads.runner.catch_up()
        now = self.clock()
        rows = self.views.fetch(
            "SELECT case_id, notification, notification_review_at, notification_decided_by,"
            " notification_decided_at, notification_reviewed, notification_reviewed_at,"
            " notification_inform FROM cl_cases WHERE status IN ('triage', 'active')"
            " AND (notification IS NULL OR notification = 'defer')"
        )
        items = []
        for case_id, decision, review_at, by, at, outcome, reviewed_at, inform in rows:
            reason = self.reads.notification_reason(str(case_id)) if decision else None
            overdue = decision is None or (review_at is not None and _before(str(review_at), now))
            items.append(
                {
                    "case_id": str(case_id),
                    "decision": decision or "undecided",
                    "reason": reason,
                    "review_at": review_at,
                    "decided_by": by,
                    "decided_at": at,
                    "overdue": overdue,
                    "review": _review(outcome, reviewed_at, inform),
                }
            )
        self.log.append([self.reads.case_entry(request, "", _ALLOWED_META)], now=now)
        return sorted(items, key=lambda i: (not i["overdue"], str(i["review_at"] or "")))

    def review_notification(
        self, request: ReadRequest, case_id: str, *, outcome: str, remark: str
    ) -> dict[str, Any]:
        """The outcome of reviewing a case's deferral; not justified: the owners of the
        case's facts are listed to be informed. A second review is refused (409)."""
        self._require_officer(request)
        inform = [] if outcome == "justified" else self._owners(case_id)
        result = self.ledger.review_notification(
            RequestContext(request.principal, request.purpose),
            case_id,
            outcome=outcome,
            remark=remark,
            inform=inform,
        )
        return {"case_id": case_id, "outcome": outcome, "inform": inform, "version": result.version}

    def emergency_review(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Emergency (break-the-glass) grants not yet reviewed, each with what it opened."""
        self._require_officer(request)
        self.reads.runner.catch_up()
        rows = self.views.fetch(
            "SELECT grant_id, case_id, actor, org, roles, started_at, ends_at"
            " FROM cl_emergency_grants WHERE reviewed IS NULL ORDER BY started_at, grant_id"
        )
        items = []
        for grant_id, case_id, actor, org, roles, started, ends in rows:
            accesses = self._grant_accesses(str(case_id), str(actor), str(started), str(ends))
            items.append(
                {
                    "grant_id": str(grant_id),
                    "case_id": str(case_id),
                    "actor": str(actor),
                    "org": str(org),
                    "roles": _json_list(roles),
                    "started_at": str(started),
                    "ends_at": str(ends),
                    "stated_reason": accesses[0].note if accesses else None,
                    "accesses": [e.seq for e in accesses],
                    "fact_ids": sorted({f for e in accesses for f in e.fact_ids}),
                }
            )
        self.log.append([self.reads.case_entry(request, "", _ALLOWED_META)], now=self.clock())
        return items

    def review_emergency(
        self, request: ReadRequest, grant_id: str, *, outcome: str, remark: str
    ) -> dict[str, Any]:
        """The outcome of reviewing one emergency grant; not justified: the owners whose
        facts it opened (other than the reader's own partner) are listed to be informed."""
        self._require_officer(request)
        self.reads.runner.catch_up()
        rows = self.views.fetch(
            "SELECT case_id, actor, org, started_at, ends_at FROM cl_emergency_grants"
            " WHERE grant_id = ?",
            (grant_id,),
        )
        if not rows:
            raise CaseNotFoundError("emergency grant not found")
        case_id, actor, org, started, ends = (str(v) for v in rows[0])
        inform: list[str] = []
        if outcome != "justified":
            opened = {
                f for e in self._grant_accesses(case_id, actor, started, ends) for f in e.fact_ids
            }
            inform = sorted({o for f, o in self._fact_owners(case_id) if f in opened} - {org})
        result = self.ledger.review_emergency_access(
            RequestContext(request.principal, request.purpose),
            case_id,
            grant_id,
            outcome=outcome,
            remark=remark,
            inform=inform,
        )
        return {
            "grant_id": grant_id,
            "outcome": outcome,
            "inform": inform,
            "version": result.version,
        }

    def _grant_accesses(self, case_id: str, actor: str, started: str, ends: str) -> list[Any]:
        """The emergency reads a grant covered: its reader, its case, inside its time box."""
        return [
            e
            for e in self.log.entries(
                case_id=case_id,
                actor=actor,
                emergency="1",
                decision="allowed",
                time_from=_utc(started),
                time_to=_utc(ends),
                limit=100_000,
            )
        ]

    def _fact_owners(self, case_id: str) -> list[tuple[str, str]]:
        return [
            (str(f), str(o))
            for f, o in self.views.fetch(
                "SELECT fact_id, owner FROM cl_facts WHERE case_id = ?", (case_id,)
            )
        ]

    def _owners(self, case_id: str) -> list[str]:
        return sorted({owner for _, owner in self._fact_owners(case_id)})

    # -- the ten questions of DOMAIN.md (documented in docs/privacy-officer.md) -----------

    def who_accessed(self, subject_id: str, *, limit: int = 10_000) -> list[Any]:
        """Q1: every read (and refusal) touching the subject: who, when, role, for whom, why."""
        return self.log.entries(subject=self.log.pseudonym(subject_id), limit=limit)

    def special_category_exposure(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Q4: allowed reads of art. 9/10 facts by anyone but the owner and named partners
        (expected: none, except flagged emergency access)."""
        self._require_officer(request)
        special = {
            str(fid): (str(owner), set(_json_list(partners)))
            for fid, owner, cats, partners in self.views.fetch(
                "SELECT fact_id, owner, categories, sharing_partners FROM cl_facts"
            )
            if {"health", "criminal"} & set(_json_list(cats))
        }
        findings = []
        for entry in self.log.entries(decision="allowed", limit=10_000_000):
            if _no_disclosure(entry):
                continue
            for fact_id in entry.fact_ids:
                if fact_id in special:
                    owner, named = special[fact_id]
                    if entry.org != owner and entry.org not in named:
                        findings.append(
                            {
                                "seq": entry.seq,
                                "fact_id": fact_id,
                                "org": entry.org,
                                "emergency": entry.emergency,
                                "note": entry.note,
                            }
                        )
        return findings

    def reads_after_withdrawal(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Q6: allowed reads of consent-based facts after their consent was withdrawn
        (expected: never)."""
        self._require_officer(request)
        findings = []
        for (case_id,) in self.views.fetch("SELECT DISTINCT case_id FROM cl_consents"):
            state = self.reads.snapshot(str(case_id), catch_up=False).state
            withdrawn = [c for c in state.consents if c.withdrawn_at is not None]
            if not withdrawn:
                continue
            for fact in self.reads.fact_candidates(str(case_id)):
                if not self.covenant.is_consent_basis(fact.legal_basis):
                    continue
                covering = [
                    c
                    for c in withdrawn
                    if c.subject in fact.subjects and fact.categories <= c.categories
                ]
                if not covering:
                    continue
                cutoff = min(c.withdrawn_at for c in covering if c.withdrawn_at is not None)
                for entry in self.log.entries(
                    case_id=str(case_id), decision="allowed", limit=10_000_000
                ):
                    if _no_disclosure(entry):
                        continue
                    if fact.fact_id in entry.fact_ids and entry.time >= cutoff.isoformat():
                        findings.append(
                            {
                                "seq": entry.seq,
                                "fact_id": fact.fact_id,
                                "org": entry.org,
                                "time": entry.time,
                            }
                        )
        return findings

    def _require_officer(self, request: ReadRequest) -> None:
        """Supervision is the privacy officer's, for a metadata purpose (policies decide)."""
        if not decide_supervision(self.covenant, request.principal, request.purpose).allowed:
            raise ReadDeniedError("not permitted")


class _AllowedMeta:
    allowed = True
    reason = "privacy_officer_metadata"
    disclosure = Disclosure.metadata


_ALLOWED_META: Any = _AllowedMeta()


def _no_disclosure(entry: Any) -> bool:
    """The privacy officer's metadata reads show no content; an access report shows the
    person their own data (AVG art. 15). Neither is a disclosure to another reader."""
    return bool(
        entry.reason in ("privacy_officer_metadata", "allowed_owner_metadata")
        or entry.outcome == "access_report"
    )


def _utc(instant: str) -> str:
    """An instant as the access log writes times (UTC, ISO 8601), for range filters."""
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat()


def _review(outcome: Any, reviewed_at: Any, inform: Any) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {"outcome": str(outcome), "reviewed_at": reviewed_at, "inform": _json_list(inform)}


def _json_list(text: Any) -> list[str]:

    return [str(v) for v in json.loads(str(text))]


def _before(review_at: str, now: datetime) -> bool:
    """Is a review date (RFC 3339 date or date-time) in the past?"""
    try:
        moment = datetime.fromisoformat(review_at)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return moment < now


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
