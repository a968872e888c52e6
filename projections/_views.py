"""Role views, assembled at read time. One pipeline serves every caller:

    candidates from the projections -> policy decision per fact (with reason)
    -> access-log append (one entry per subject touched; denials too; fail closed)
    -> open the sealed bodies the decision admits -> the view

Denied facts are simply absent (only their count is shown). The privacy officer reads for a
metadata purpose and gets metadata of everything, the content of nothing. Every decision is
a policy function's; this module only gathers its inputs and carries out its outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger import AccessEntry, AccessLog, KeyringError, LedgerError
from policies import (
    AccessDecision,
    Covenant,
    Disclosure,
    FactMetadata,
    ReasonCode,
    SharingLevel,
    decide_case_overview,
    decide_case_read,
    decide_case_sight,
    decide_fact_read,
    reads_beyond_participation,
    withheld_reason,
)
from projections._access_entries import case_entry, fact_entries
from projections._action_list import ActionPage, ActionQuery, list_actions
from projections._candidate_cache import CandidateCache
from projections._case_state import CaseSnapshot, load_fact_candidates, load_snapshot
from projections._glass import Glass, find_glass, grant_view, record_grant
from projections._read_records import (
    ActionView,
    CaseOverview,
    CaseSummary,
    Clock,
    ReadDeniedError,
    ReadRequest,
)
from projections._runner import ProjectionRunner
from projections._starting_point import StartingPointView, read_starting_point, starting_point_refs
from projections._view_builders import (
    action_views,
    direction_view,
    fact_view,
    notification_view,
)


class ReadService:
    """The only read path: every view goes through policy and the access log."""

    def __init__(
        self,
        runner: ProjectionRunner,
        access_log: AccessLog,
        covenant: Covenant,
        clock: Clock,
    ) -> None:
        self.runner = runner
        self.ledger = runner.ledger
        self.views = runner.views
        self.access_log = access_log
        self.covenant = covenant
        self.clock = clock
        # Recent cases' fact metadata, by projected case version.
        self._candidates = CandidateCache()

    # -- public views ---------------------------------------------------------------------

    def case_overview(self, request: ReadRequest, case_id: str) -> CaseOverview:
        now = self.clock()
        snapshot = self.snapshot(case_id)
        case_decision = decide_case_overview(
            self.covenant, request.principal, request.purpose, snapshot.state, now
        )
        facts = self.fact_candidates(case_id, version=snapshot.version)
        glass = find_glass(self.views, self.ledger, self.covenant, request, case_id, now)
        emergency = glass.request if glass is not None else None
        decisions = [
            (
                meta,
                decide_fact_read(
                    self.covenant,
                    request.principal,
                    request.purpose,
                    emergency,
                    meta,
                    snapshot.state,
                    now,
                ),
            )
            for meta in facts
        ]
        sight = decide_case_sight(case_decision, (d for _, d in decisions))
        granted_by_glass = any(d.allowed and d.emergency for _, d in decisions)
        if not sight.allowed:
            entries = [case_entry(request, case_id, sight, self.covenant)]
            if glass is not None:
                # A refused emergency request: the log says, per fact, why (docs/domain.md,
                # the privacy officer's questions 4 and 5).
                entries += self._fact_entries(request, case_id, decisions, glass)
            self.access_log.append(entries, now=now)
            raise ReadDeniedError("case not found")
        version = snapshot.version
        if granted_by_glass and glass is not None and glass.grant_id is None:
            # The grant is an event of the case, recorded before anything is logged or shown.
            glass, version = record_grant(self.ledger, request, case_id, glass)
        # Shown because the glass was broken: the case entry says so (its decision: the
        # emergency grant's when the case read itself was refused), never "denied".
        entries = [
            case_entry(
                request, case_id, sight, self.covenant, emergency=granted_by_glass, glass=glass
            )
        ]
        entries += self._fact_entries(request, case_id, decisions, glass)
        self.access_log.append(entries, now=now)  # log before reveal; raises -> no data
        content_ids = [
            meta.fact_id
            for meta, d in decisions
            if d.allowed and d.disclosure is Disclosure.content
        ]
        metadata_only = sight.disclosure is Disclosure.metadata
        # The referring melder sees its own referral and the triage outcome, nothing else.
        referrer = sight.reason is ReasonCode.allowed_referrer
        bodies, actions_text, notification_reason = self._open(
            case_id, content_ids, request.purpose, want_text=not (metadata_only or referrer)
        )
        visible = [fact_view(meta, d, bodies) for meta, d in decisions if d.allowed]
        actions = (
            []
            if referrer
            else action_views(self.views, case_id, actions_text, metadata_only=metadata_only)
        )
        state = snapshot.state
        concerned = {s for fact in visible for s in fact.subjects}
        subjects = [(s, r) for s, r in snapshot.subjects if not referrer or s in concerned]
        # The referring melder is not told how many other facts the case holds either.
        withheld = Counter(
            str(withheld_reason(d, owner_level=meta.sharing.level is SharingLevel.owner))
            for meta, d in decisions
            if not d.allowed and not referrer
        )
        starting_point = starting_point_refs(
            self, case_id, facts, {meta.fact_id: d for meta, d in decisions}
        )
        return CaseOverview(
            case_id=case_id,
            status=str(snapshot.state.status),
            phase=snapshot.phase,
            purpose=snapshot.state.purpose,
            participants=()
            if referrer
            else tuple(sorted(p for p, part in state.participants.items() if part.is_active(now))),
            subjects=tuple({"subject_id": s, "case_role": role} for s, role in subjects),
            facts=tuple(visible),
            withheld=sum(withheld.values()),
            actions=tuple(actions),
            version=version,
            notification=None if referrer else notification_view(snapshot, notification_reason),
            emergency=granted_by_glass,
            withheld_by_reason=dict(sorted(withheld.items())),
            emergency_grant=grant_view(glass) if granted_by_glass else None,
            direction={} if referrer else direction_view(state),
            referred_by=state.referrer,
            starting_point=starting_point,
        )

    def action_list(self, request: ReadRequest, case_id: str) -> tuple[int, list[ActionView]]:
        """The action list (shared with every active participant and the clerk)."""
        now = self.clock()
        snapshot = self.snapshot(case_id)
        decision = decide_case_read(
            self.covenant, request.principal, request.purpose, snapshot.state, now
        )
        self.log_case_read(request, now, case_id, decision)
        if not decision.allowed:
            raise ReadDeniedError("case not found")
        metadata_only = decision.disclosure is Disclosure.metadata
        _, texts, _ = self._open(case_id, [], request.purpose, want_text=not metadata_only)
        actions = action_views(self.views, case_id, texts, metadata_only=metadata_only)
        return snapshot.version, actions

    def starting_point(self, request: ReadRequest, case_id: str) -> StartingPointView:
        """The case's current shared starting point (``projections._starting_point``)."""
        return read_starting_point(self, request, case_id)

    def actions_across_cases(self, request: ReadRequest, query: ActionQuery) -> ActionPage:
        """A page of the actions of every case the reader may see (``projections._action_list``)."""
        return list_actions(self, request, query)

    def list_cases(self, request: ReadRequest) -> list[CaseSummary]:
        """Cases whose process data the caller may see, with phase and status."""
        now = self.clock()
        self.runner.catch_up()
        if reads_beyond_participation(self.covenant, request.principal, request.purpose):
            rows = self.views.fetch("SELECT case_id FROM cl_cases ORDER BY opened_at, case_id")
        else:
            # Nobody else can be allowed a case its partner does not take part in, but for
            # the referrer's view of the cases its partner referred.
            rows = self.views.fetch(
                "SELECT case_id FROM cl_participants WHERE org = ? AND removed_at IS NULL"
                " UNION SELECT case_id FROM cl_referrals WHERE org = ? ORDER BY case_id",
                (request.principal.partner, request.principal.partner),
            )
        summaries = []
        for (case_id,) in rows:
            snapshot = self.snapshot(str(case_id), catch_up=False)
            decision = decide_case_overview(
                self.covenant, request.principal, request.purpose, snapshot.state, now
            )
            if decision.allowed:
                summaries.append(
                    CaseSummary(
                        str(case_id),
                        str(snapshot.state.status),
                        snapshot.phase,
                        snapshot.state.purpose,
                        snapshot.version,
                    )
                )
        return summaries

    # -- policy inputs --------------------------------------------------------------------

    def snapshot(self, case_id: str, *, catch_up: bool = True) -> CaseSnapshot:
        """The case as the projections know it (metadata only); CaseNotFoundError if none."""
        if catch_up:
            self.runner.catch_up()  # read your own writes
        return load_snapshot(self.views, case_id)

    def fact_candidates(self, case_id: str, *, version: int | None = None) -> list[FactMetadata]:
        """Metadata of every fact of the case (policy inputs; never bodies).

        With the case's projected ``version`` (from :meth:`snapshot`), the parsed metadata is
        reused while the case has not changed: every change to a fact is a case event.
        """
        if version is not None:
            cached = self._candidates.get(case_id, version)
            if cached is not None:
                return cached
        facts = load_fact_candidates(self.views, case_id)
        if version is not None:
            self._candidates.put(case_id, version, facts)
        return facts

    # -- the access log -------------------------------------------------------------------

    def log_case_read(
        self, request: ReadRequest, now: datetime, case_id: str, decision: AccessDecision
    ) -> None:
        """Record a case-level read (or its refusal) before anything is returned."""
        self.access_log.append([self.case_entry(request, case_id, decision)], now=now)

    def case_entry(
        self, request: ReadRequest, case_id: str, decision: AccessDecision
    ) -> AccessEntry:
        """The case-level access-log entry for ``decision`` (not appended)."""
        return case_entry(request, case_id, decision, self.covenant)

    def _fact_entries(
        self,
        request: ReadRequest,
        case_id: str,
        decisions: Sequence[tuple[FactMetadata, AccessDecision]],
        glass: Glass | None,
    ) -> list[AccessEntry]:
        return fact_entries(
            request, case_id, decisions, self.covenant, self.access_log.pseudonym, glass
        )

    # -- opening sealed data --------------------------------------------------------------

    def _open(
        self, case_id: str, fact_ids: Sequence[str], purpose: str, *, want_text: bool
    ) -> tuple[dict[str, Any], dict[str, str], str | None]:
        """Open admitted bodies for the decision's purpose, and the process texts (action
        descriptions, reasons)."""
        if not fact_ids and not want_text:
            return {}, {}, None
        try:
            case = self.ledger.get_case(case_id)
        except KeyringError:
            raise  # the keys are unreachable: fail closed, never answer as if nothing held
        except LedgerError:
            return {}, {}, None
        present = [f for f in fact_ids if f in case.facts]
        opened = self.ledger.open_bodies(case, present, purpose=purpose) if present else []
        bodies = {b.fact_id: b.body for b in opened if not b.redacted}
        if not want_text:
            return bodies, {}, None
        texts = {aid: a.what for aid, a in case.actions.items()}
        reason = case.notification.reason if case.notification is not None else None
        return bodies, texts, reason

    def open_fact_bodies(
        self, case_id: str, fact_ids: Sequence[str], purpose: str
    ) -> dict[str, Any]:
        """Open admitted fact bodies for the decision's purpose (callers decided and logged)."""
        return self._open(case_id, fact_ids, purpose, want_text=False)[0]

    def open_action_texts(self, case_id: str) -> dict[str, str]:
        """The case's action descriptions by action id (callers decided and logged)."""
        return self._open(case_id, [], "", want_text=True)[1]

    def open_for_subject_access(
        self, case_id: str, subject_id: str, fact_ids: Sequence[str]
    ) -> dict[str, Any]:
        """Open facts for the subject's own access report (callers have decided and logged)."""
        if not fact_ids:
            return {}
        case = self.ledger.get_case(case_id)
        present = [f for f in fact_ids if f in case.facts]
        opened = self.ledger.open_for_subject_access(case, present, subject_id=subject_id)
        return {b.fact_id: b.body for b in opened if not b.redacted}

    def notification(self, snapshot: CaseSnapshot, case_id: str) -> dict[str, Any] | None:
        """The case's notification decision with its reason (opened from the case)."""
        return notification_view(snapshot, self.notification_reason(case_id))

    def notification_reason(self, case_id: str) -> str | None:
        return self._open(case_id, [], "", want_text=True)[2]
