"""Retention runs: erase what the covenant's retention rules say is due; legal holds suspend.

``policies`` decides every deadline (``case_retention_deadline``, ``is_expired``) and
whether a hold is in force (``is_on_hold``); a run is idempotent, and a dry run erases
nothing and lists what a run would erase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger import RequestContext
from policies import cancelled_meeting_deadline, case_retention_deadline, is_expired, is_on_hold
from projections._privacy_desk import PrivacyDesk, Progress
from projections._privacy_records import RetentionReport
from projections._read_records import ReadRequest


@dataclass
class _Due:
    case_erasures: list[str] = field(default_factory=list)
    fact_erasures: list[tuple[str, str]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    #: Cancelled meetings whose case data is past the covenant's ``[meetings]`` rule.
    meeting_erasures: list[str] = field(default_factory=list)


class RetentionRuns(PrivacyDesk):
    """The privacy officer applies the retention rules."""

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
                erasures.append(_summary(report.erasure_id, "case", case_id, "retention"))
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
                erasures.append(_summary(report.erasure_id, "fact", fact_id, "consent_withdrawn"))
            if progress:
                progress(n, total)
        for meeting_id in due.meeting_erasures:
            if dry_run:
                erasures.append(
                    {"scope": "meeting", "meeting_id": meeting_id, "ground": "retention"}
                )
                continue
            for report in self.ledger.erase_meeting_data(ctx, meeting_id, ground="retention"):
                erasures.append(_summary(report.erasure_id, "meeting", meeting_id, "retention"))
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
        due.meeting_erasures = self._cancelled_meetings_due(now, erased=due.case_erasures)
        return due

    def _cancelled_meetings_due(self, now: datetime, *, erased: list[str]) -> list[str]:
        """Cancelled meetings past their rule that still hold readable case data, unless a
        case on their agenda is on hold (or is being erased whole anyway)."""
        found = []
        cancelled = self.reads.views.fetch(
            "SELECT meeting_id, closed_at FROM cl_meetings WHERE status = 'cancelled'"
            " ORDER BY planned_at, meeting_id"
        )
        for meeting_id, closed_at in cancelled:
            if now < cancelled_meeting_deadline(self.covenant, datetime.fromisoformat(closed_at)):
                continue
            rows = self.reads.views.fetch(
                "SELECT DISTINCT case_id FROM cl_agenda WHERE meeting_id = ?"
                " AND case_id IS NOT NULL",
                (meeting_id,),
            )
            case_ids = {str(r[0]) for r in rows} - set(erased)
            held = any(
                is_on_hold(self.reads.snapshot(c, catch_up=False).state, now) for c in case_ids
            )
            if case_ids and not held:
                found.append(str(meeting_id))
        return found


def _summary(erasure_id: str, scope: str, target: str, ground: str) -> dict[str, Any]:
    return {"erasure_id": erasure_id, "scope": scope, "target_id": target, "ground": ground}
