"""Role views, assembled at read time. One pipeline serves every caller:

    candidates from the projections -> policy decision per fact (with reason)
    -> access-log append (one entry per subject touched; denials too; fail closed)
    -> open the sealed bodies the decision admits -> the view

Denied facts are simply absent (only their count is shown). The privacy officer reads for a
metadata purpose and gets metadata of everything, the content of nothing.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger import (
    CaseNotFoundError,
    EmergencyGrantState,
    KeyringError,
    LedgerError,
    RequestContext,
)
from ledger._audit import AccessEntry, AccessLog
from ledger._lru import trim_lru
from policies import (
    AccessDecision,
    CaseId,
    CaseState,
    CaseStatus,
    ConsentId,
    ConsentState,
    Covenant,
    Disclosure,
    EmergencyRequest,
    FactId,
    FactMetadata,
    LegalHold,
    NotificationDecision,
    Participation,
    PartnerId,
    Principal,
    PurposeId,
    ReasonCode,
    Sharing,
    SharingLevel,
    SubjectId,
    decide_case_read,
    decide_fact_read,
    emergency_window,
    withheld_reason,
)
from projections._runner import ProjectionRunner

Clock = Callable[[], datetime]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CANDIDATE_CACHE_CASES = 256
_CANDIDATE_CACHE_FACTS = 10_000  # about 1.7 kB of metadata each


class ReadDeniedError(CaseNotFoundError):
    """The caller may not see this case; looks exactly like an unknown case (404)."""


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Who reads, for which declared purpose, maybe breaking the glass."""

    principal: Principal
    purpose: str
    emergency_reason: str | None = None
    trace_id: str = ""

    @property
    def role(self) -> str:
        return ",".join(sorted(self.principal.roles))


@dataclass(frozen=True, slots=True)
class FactView:
    fact_id: str
    kind: str
    owner: str
    subjects: tuple[str, ...]
    categories: tuple[str, ...]
    purpose: str
    sharing: dict[str, Any]
    recorded_at: str
    body: Any | None = None
    has_body: bool = False
    emergency: bool = False
    reason: str = ""
    legal_basis: str = ""
    #: Set when the reader sees only that the fact exists (its owner, after a withdrawal).
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ActionView:
    action_id: str
    assignee: str
    what: str | None
    due: str
    status: str


@dataclass(frozen=True, slots=True)
class CaseOverview:
    case_id: str
    status: str
    phase: int
    purpose: str
    participants: tuple[str, ...]
    subjects: tuple[dict[str, str], ...]
    facts: tuple[FactView, ...]
    withheld: int
    actions: tuple[ActionView, ...]
    version: int
    notification: dict[str, Any] | None = None
    emergency: bool = False
    #: ``withheld`` by reason (``policies.Withheld``); never names a fact.
    withheld_by_reason: dict[str, int] = field(default_factory=dict)
    #: The reader's emergency grant in use: id and end of its time box.
    emergency_grant: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case_id: str
    status: str
    phase: int
    purpose: str
    version: int


@dataclass(frozen=True, slots=True)
class _Glass:
    """The emergency grant a read uses: recorded already, or to record if it opens a fact."""

    request: EmergencyRequest
    grant_id: str | None


@dataclass
class _Snapshot:
    """What the projections say about one case (metadata only)."""

    state: CaseState
    phase: int
    version: int
    subjects: list[tuple[str, str]] = field(default_factory=list)
    notification: tuple[Any, ...] | None = None


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
        # case id -> (projected case version, its facts' metadata): an LRU of recent cases.
        self._candidates: OrderedDict[str, tuple[int, tuple[FactMetadata, ...]]] = OrderedDict()
        self._candidates_lock = threading.Lock()

    # -- public views ---------------------------------------------------------------------

    def case_overview(self, request: ReadRequest, case_id: str) -> CaseOverview:
        now = self.clock()
        snapshot = self.snapshot(case_id)
        case_decision = decide_case_read(
            self.covenant, request.principal, request.purpose, snapshot.state, now
        )
        facts = self.fact_candidates(case_id, version=snapshot.version)
        glass = self._glass(request, case_id, now)
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
        granted_by_glass = any(d.allowed and d.emergency for _, d in decisions)
        if not case_decision.allowed and not granted_by_glass:
            entries = [_case_entry(request, case_id, case_decision, False, None, self.covenant)]
            if glass is not None:
                # A refused emergency request: the log says, per fact, why (DOMAIN.md Q4, Q5).
                entries += self._fact_entries(request, case_id, decisions, glass)
            self.access_log.append(entries, now=now)
            raise ReadDeniedError("case not found")
        version = snapshot.version
        if granted_by_glass and glass is not None and glass.grant_id is None:
            # The grant is an event of the case, recorded before anything is logged or shown.
            glass, version = self._record_grant(request, case_id, glass)
        logged = case_decision
        if granted_by_glass and not case_decision.allowed:
            # The case was shown because the glass was broken: log it as such, not as denied.
            logged = next(d for _, d in decisions if d.allowed and d.emergency)
        entries = [_case_entry(request, case_id, logged, granted_by_glass, glass, self.covenant)]
        entries += self._fact_entries(request, case_id, decisions, glass)
        self.access_log.append(entries, now=now)  # log before reveal; raises -> no data
        content_ids = [
            meta.fact_id
            for meta, d in decisions
            if d.allowed and d.disclosure is Disclosure.content
        ]
        metadata_only = case_decision.disclosure is Disclosure.metadata
        bodies, actions_text, notification_reason = self._open(
            case_id, content_ids, request.purpose, want_text=not metadata_only
        )
        visible = [_fact_view(meta, d, bodies) for meta, d in decisions if d.allowed]
        actions = self._actions(case_id, actions_text, metadata_only=metadata_only)
        show_process = case_decision.allowed or granted_by_glass
        withheld = Counter(
            str(withheld_reason(d, owner_level=meta.sharing.level is SharingLevel.owner))
            for meta, d in decisions
            if not d.allowed
        )
        return CaseOverview(
            case_id=case_id,
            status=str(snapshot.state.status),
            phase=snapshot.phase,
            purpose=snapshot.state.purpose,
            participants=tuple(
                sorted(p for p, part in snapshot.state.participants.items() if part.is_active(now))
            ),
            subjects=tuple({"subject_id": s, "case_role": role} for s, role in snapshot.subjects),
            facts=tuple(visible),
            withheld=sum(withheld.values()),
            actions=tuple(actions) if show_process else (),
            version=version,
            notification=_notification(snapshot, notification_reason),
            emergency=granted_by_glass,
            withheld_by_reason=dict(sorted(withheld.items())),
            emergency_grant=_grant_view(glass) if granted_by_glass else None,
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
        return snapshot.version, self._actions(case_id, texts, metadata_only=metadata_only)

    def list_cases(self, request: ReadRequest) -> list[CaseSummary]:
        """Cases whose process data the caller may see, with phase and status."""
        now = self.clock()
        self.runner.catch_up()
        if request.principal.has_role("privacy_officer"):
            rows = self.views.fetch("SELECT case_id FROM cl_cases ORDER BY opened_at, case_id")
        else:
            rows = self.views.fetch(
                "SELECT case_id FROM cl_participants WHERE org = ? AND removed_at IS NULL"
                " ORDER BY case_id",
                (request.principal.partner,),
            )
        summaries = []
        for (case_id,) in rows:
            snapshot = self.snapshot(str(case_id), catch_up=False)
            decision = decide_case_read(
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

    # -- pipeline pieces ------------------------------------------------------------------

    def _glass(self, request: ReadRequest, case_id: str, now: datetime) -> _Glass | None:
        """The emergency grant this read uses, if any.

        A grant of the reader still open at ``now`` is used, with or without a stated reason
        (the time box runs from the grant, never from the read). Otherwise a stated reason
        asks for a new grant from ``now``, unless it is the reason of the reader's last grant
        in this case: a grant that ended is not renewed with the same words (the reads then
        get ``emergency_expired``).
        """
        grants = [
            (str(grant_id), _dt(started) or _EPOCH, _dt(ends) or _EPOCH)
            for grant_id, started, ends in self.views.fetch(
                "SELECT grant_id, started_at, ends_at FROM cl_emergency_grants"
                " WHERE case_id = ? AND actor = ? ORDER BY started_at DESC",
                (case_id, request.principal.user),
            )
        ]
        open_now = [g for g, started, ends in grants if started <= now < ends]
        if not open_now and request.emergency_reason is None:
            return None
        wanted = open_now[:1] or [g for g, _, _ in grants[:1]]
        held = self._held_grants(case_id, wanted)
        if open_now and open_now[0] in held:
            grant = held[open_now[0]]
            return _Glass(_request_of(grant), grant.grant_id)
        if request.emergency_reason is None:
            return None
        latest = held.get(wanted[0]) if wanted else None
        if latest is not None and latest.reason == request.emergency_reason:
            return _Glass(_request_of(latest), latest.grant_id)
        return _Glass(emergency_window(self.covenant, request.emergency_reason, now), None)

    def _held_grants(self, case_id: str, grant_ids: Sequence[str]) -> dict[str, Any]:
        """The grants as the case holds them (with their sealed reasons, opened in memory)."""
        if not grant_ids:
            return {}
        try:
            case = self.ledger.get_case(case_id)
        except KeyringError:
            raise  # the keys are unreachable: fail closed, never answer as if nothing held
        except LedgerError:
            return {}
        return {g: case.emergency_grants[g] for g in grant_ids if g in case.emergency_grants}

    def _record_grant(
        self, request: ReadRequest, case_id: str, glass: _Glass
    ) -> tuple[_Glass, int]:
        ctx = RequestContext(request.principal, request.purpose)
        result = self.ledger.grant_emergency_access(
            ctx,
            case_id,
            reason=glass.request.reason,
            started_at=glass.request.started_at,
            ends_at=glass.request.ends_at,
        )
        grant = self.ledger.get_case(case_id).emergency_grants[str(result.created_id)]
        return _Glass(_request_of(grant), grant.grant_id), result.version

    def snapshot(self, case_id: str, *, catch_up: bool = True) -> _Snapshot:
        """The case as the projections know it (metadata only); CaseNotFoundError if none."""
        if catch_up:
            self.runner.catch_up()  # read your own writes
        rows = self.views.fetch(
            "SELECT status, phase, purpose, opened_at, decided_at, closed_at, erased_at, version,"
            " legal_basis, notification, notification_review_at, notification_decided_by,"
            " notification_decided_at FROM cl_cases WHERE case_id = ?",
            (case_id,),
        )
        if not rows:
            raise CaseNotFoundError("case not found")
        (status, phase, purpose, opened, decided, closed, erased, version, basis, *notification) = (
            rows[0]
        )
        participants = {
            PartnerId(org): Participation(PartnerId(org), _dt(invited) or _EPOCH, _dt(removed))
            for org, invited, removed in self.views.fetch(
                "SELECT org, invited_at, removed_at FROM cl_participants WHERE case_id = ?",
                (case_id,),
            )
        }
        consents = tuple(
            ConsentState(
                ConsentId(cid),
                SubjectId(subject),
                PurposeId(cpurpose),
                frozenset(json.loads(cats)),
                frozenset(json.loads(recipients)),
                _dt(given) or _EPOCH,
                _dt(withdrawn),
            )
            for cid, subject, cpurpose, cats, recipients, given, withdrawn in self.views.fetch(
                "SELECT consent_id, subject_id, purpose, categories, recipients, given_at,"
                " withdrawn_at FROM cl_consents WHERE case_id = ?",
                (case_id,),
            )
        )
        holds = tuple(
            LegalHold(str(hid), str(code), _dt(placed) or _EPOCH, _dt(lifted))
            for hid, code, placed, lifted in self.views.fetch(
                "SELECT hold_id, reason_code, placed_at, lifted_at FROM cl_holds"
                " WHERE case_id = ? ORDER BY placed_at",
                (case_id,),
            )
        )
        state = CaseState(
            case_id=CaseId(case_id),
            status=CaseStatus(status),
            purpose=PurposeId(purpose),
            opened_at=_dt(opened) or _EPOCH,
            decided_at=_dt(decided) or (_dt(opened) or _EPOCH),
            closed_at=_dt(closed),
            participants=participants,
            consents=consents,
            legal_holds=holds,
            erased_at=_dt(erased),
            legal_basis=str(basis),
            notification=_decision(notification[0], notification[1]),
        )
        subjects = [
            (str(s), str(r))
            for s, r in self.views.fetch(
                "SELECT subject_id, case_role FROM cl_subjects WHERE case_id = ?"
                " AND erased_at IS NULL ORDER BY added_at, subject_id",
                (case_id,),
            )
        ]
        return _Snapshot(
            state,
            int(phase),
            int(version),
            subjects,
            tuple(notification) if notification[0] is not None else None,
        )

    def fact_candidates(self, case_id: str, *, version: int | None = None) -> list[FactMetadata]:
        """Metadata of every fact of the case (policy inputs; never bodies).

        With the case's projected ``version`` (from :meth:`snapshot`), the parsed metadata is
        reused while the case has not changed: every change to a fact is a case event.
        """
        if version is not None:
            with self._candidates_lock:
                cached = self._candidates.get(case_id)
                if cached is not None and cached[0] == version:
                    self._candidates.move_to_end(case_id)
                    return list(cached[1])
        facts = self._load_candidates(case_id)
        if version is not None:
            with self._candidates_lock:
                self._candidates[case_id] = (version, tuple(facts))
                trim_lru(
                    self._candidates,
                    _CANDIDATE_CACHE_CASES,
                    max_weight=_CANDIDATE_CACHE_FACTS,
                    weight=lambda entry: len(entry[1]),
                )
        return facts

    def _load_candidates(self, case_id: str) -> list[FactMetadata]:
        rows = self.views.fetch(
            "SELECT fact_id, owner, kind, categories, subjects, purpose, legal_basis,"
            " sharing_level, sharing_partners, recorded_at, retracted_at, erased_at"
            " FROM cl_facts WHERE case_id = ? ORDER BY recorded_at, fact_id",
            (case_id,),
        )
        facts = []
        for (
            fid,
            owner,
            kind,
            cats,
            subjects,
            purpose,
            basis,
            level,
            partners,
            recorded,
            retracted,
            erased,
        ) in rows:
            facts.append(
                FactMetadata(
                    fact_id=FactId(fid),
                    case_id=CaseId(case_id),
                    owner=PartnerId(owner),
                    kind=kind,
                    categories=frozenset(json.loads(cats)),
                    subjects=frozenset(SubjectId(s) for s in json.loads(subjects)),
                    purpose=PurposeId(purpose),
                    legal_basis=basis,
                    sharing=Sharing(
                        SharingLevel(level),
                        frozenset(PartnerId(p) for p in json.loads(partners))
                        if level == "partners"
                        else frozenset(),
                    ),
                    recorded_at=_dt(recorded) or _EPOCH,
                    erased=erased is not None,
                    retracted=retracted is not None,
                )
            )
        return facts

    def _fact_entries(
        self,
        request: ReadRequest,
        case_id: str,
        decisions: Sequence[tuple[FactMetadata, AccessDecision]],
        glass: _Glass | None = None,
    ) -> list[AccessEntry]:
        """One entry per (subject, decision, reason): who saw or was refused what."""
        groups: dict[tuple[str, bool, str, bool], list[str]] = defaultdict(list)
        for meta, decision in decisions:
            subjects: Iterable[str] = sorted(meta.subjects) or [""]
            for subject in subjects:
                key = (subject, decision.allowed, str(decision.reason), decision.emergency)
                groups[key].append(meta.fact_id)
        return [
            AccessEntry(
                actor=request.principal.user,
                org=request.principal.partner,
                role=request.role,
                purpose=request.purpose,
                case_id=case_id,
                decision="allowed" if allowed else "denied",
                reason=reason,
                fact_ids=tuple(fact_ids),
                subject=self.access_log.pseudonym(subject),
                on_behalf_of=request.principal.on_behalf_of or "",
                emergency=emergency,
                trace_id=request.trace_id,
                note=_glass_note(glass) if emergency else "",
                covenant=self.covenant.reference,
            )
            for (subject, allowed, reason, emergency), fact_ids in groups.items()
        ]

    def log_case_read(
        self, request: ReadRequest, now: datetime, case_id: str, decision: AccessDecision
    ) -> None:
        """Record a case-level read (or its refusal) before anything is returned."""
        self.access_log.append(
            [_case_entry(request, case_id, decision, False, None, self.covenant)], now=now
        )

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

    def case_entry(
        self, request: ReadRequest, case_id: str, decision: AccessDecision
    ) -> AccessEntry:
        return _case_entry(request, case_id, decision, False, None, self.covenant)

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

    def notification(self, snapshot: _Snapshot, case_id: str) -> dict[str, Any] | None:
        return _notification(snapshot, self.notification_reason(case_id))

    def notification_reason(self, case_id: str) -> str | None:
        return self._open(case_id, [], "", want_text=True)[2]

    def _actions(
        self, case_id: str, texts: dict[str, str], *, metadata_only: bool = False
    ) -> list[ActionView]:
        """The action list; ``what`` (free text) is left out of a metadata-only view."""
        return [
            ActionView(
                str(aid),
                str(assignee),
                None if metadata_only else texts.get(str(aid), ""),
                str(due),
                str(status),
            )
            for aid, assignee, due, status in self.views.fetch(
                "SELECT action_id, assignee, due, status FROM cl_actions WHERE case_id = ?"
                " ORDER BY due, action_id",
                (case_id,),
            )
        ]


def _case_entry(
    request: ReadRequest,
    case_id: str,
    decision: AccessDecision,
    emergency: bool,
    glass: _Glass | None,
    covenant: Covenant,
) -> AccessEntry:
    return AccessEntry(
        actor=request.principal.user,
        org=request.principal.partner,
        role=request.role,
        purpose=request.purpose,
        case_id=case_id,
        decision="allowed" if decision.allowed else "denied",
        reason=str(decision.reason),
        on_behalf_of=request.principal.on_behalf_of or "",
        emergency=emergency,
        trace_id=request.trace_id,
        note=_glass_note(glass) if emergency else "",
        covenant=covenant.reference,
    )


def _request_of(grant: EmergencyGrantState) -> EmergencyRequest:
    return EmergencyRequest(grant.reason, grant.started_at, grant.ends_at)


def _glass_note(glass: _Glass | None) -> str:
    """The stated reason of the grant in use (the log's note; sanitised and capped there)."""
    return glass.request.reason if glass is not None else ""


def _grant_view(glass: _Glass | None) -> dict[str, str] | None:
    if glass is None or glass.grant_id is None:
        return None
    return {"grant_id": glass.grant_id, "ends_at": glass.request.ends_at.isoformat()}


def _decision(decision: Any, review_at: Any) -> NotificationDecision | None:
    if decision is None:
        return None
    return NotificationDecision(str(decision), _review_at(review_at))


def _review_at(value: Any) -> datetime | None:
    """A stored review date as an instant (a date: its start, UTC)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _fact_view(meta: FactMetadata, decision: AccessDecision, bodies: dict[str, Any]) -> FactView:
    content = decision.disclosure is Disclosure.content and meta.fact_id in bodies
    hidden = decision.reason is ReasonCode.allowed_owner_metadata
    sharing: dict[str, Any] = {"level": str(meta.sharing.level)}
    if meta.sharing.level is SharingLevel.partners:
        sharing["partners"] = sorted(meta.sharing.partners)
    return FactView(
        fact_id=meta.fact_id,
        kind=meta.kind,
        owner=meta.owner,
        subjects=tuple(sorted(meta.subjects)),
        categories=tuple(sorted(meta.categories)),
        purpose=meta.purpose,
        sharing=sharing,
        recorded_at=meta.recorded_at.isoformat(),
        body=bodies.get(meta.fact_id) if content else None,
        has_body=content,
        emergency=decision.emergency,
        reason=str(decision.reason),
        legal_basis=meta.legal_basis,
        status="consent_withdrawn_awaiting_erasure" if hidden else None,
    )


def _notification(snapshot: _Snapshot, reason: str | None) -> dict[str, Any] | None:
    if snapshot.notification is None:
        return None
    decision, review_at, decided_by, decided_at = snapshot.notification
    return {
        "decision": decision,
        "review_at": review_at,
        "decided_by": decided_by,
        "decided_at": decided_at,
        "reason": reason,
    }


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


__all__ = ["ReasonCode"]
