"""AVG art. 15: everything about one subject in one case, per owner, with its recipients.

Content is opened only for facts ``policies.decide_subject_report`` allows: those that
concern the requesting subject alone (art. 15(4)), released by their owner, and not held
back while informing the person is deferred (art. 23). Refused facts appear as metadata
with their reason. The report itself is a logged processing.
"""

from __future__ import annotations

from ledger import AccessEntry
from policies import (
    SubjectId,
    decide_case_read,
    decide_subject_report,
    fact_retention_deadline,
)
from projections._privacy_desk import METADATA_ONLY_REASONS, PrivacyDesk, iso
from projections._privacy_records import AccessReport, Recipient, ReportFact
from projections._read_records import ReadDeniedError, ReadRequest


class AccessReports(PrivacyDesk):
    """The privacy officer compiles a subject's access report."""

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
                retention_until=iso(fact_retention_deadline(self.covenant, f, snapshot.state)),
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
        """Who received the subject's data: allowed reads, except grants that showed no
        content (``ReasonCode.metadata_only``)."""
        metadata_only = sorted(METADATA_ONLY_REASONS)
        marks = ", ".join("?" for _ in metadata_only)  # the reasons go in as parameters
        rows = self.log.database_fetch(
            "SELECT org, COUNT(*), MIN(time), MAX(time) FROM access_log WHERE subject = ?"  # noqa: S608
            " AND case_id = ? AND decision = 'allowed' AND outcome = 'ok'"
            f" AND reason NOT IN ({marks})"
            " GROUP BY org ORDER BY org",
            (pseudonym, case_id, *metadata_only),
        )
        return [Recipient(str(o), int(n), str(first), str(last)) for o, n, first, last in rows]
