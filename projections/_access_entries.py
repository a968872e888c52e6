"""Access-log entries for a read: one for the case, one per (subject, decision, reason).

Entries are built from the policy decisions as they were taken (denials too) and appended
before anything is shown; an entry names ids and a subject's pseudonym, never content.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from ledger import AccessEntry
from policies import AccessDecision, Covenant, FactMetadata
from projections._glass import Glass, glass_note
from projections._read_records import ReadRequest


def case_entry(
    request: ReadRequest,
    case_id: str,
    decision: AccessDecision,
    covenant: Covenant,
    *,
    emergency: bool = False,
    glass: Glass | None = None,
) -> AccessEntry:
    """The case-level entry (``emergency``: the case was shown because the glass was broken)."""
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
        note=glass_note(glass) if emergency else "",
        covenant=covenant.reference,
    )


def fact_entries(
    request: ReadRequest,
    case_id: str,
    decisions: Sequence[tuple[FactMetadata, AccessDecision]],
    covenant: Covenant,
    pseudonym: Callable[[str], str],
    glass: Glass | None = None,
) -> list[AccessEntry]:
    """One entry per (subject, decision, reason): who saw or was refused which facts."""
    read = ((meta.fact_id, meta.subjects, decision) for meta, decision in decisions)
    return subject_entries(request, case_id, read, covenant, pseudonym, glass=glass)


def subject_entries(
    request: ReadRequest,
    case_id: str,
    read: Iterable[tuple[str, Iterable[str], AccessDecision]],
    covenant: Covenant,
    pseudonym: Callable[[str], str],
    *,
    glass: Glass | None = None,
    note: str = "",
) -> list[AccessEntry]:
    """One entry per (subject, decision, reason) over ``read`` (id, subjects, decision) of
    what was read (facts, or minutes versions with ``note`` "minutes"): ids and a subject's
    pseudonym, never content."""
    groups: dict[tuple[str, bool, str, bool], list[str]] = defaultdict(list)
    for item_id, item_subjects, decision in read:
        subjects: Iterable[str] = sorted(item_subjects) or [""]
        for subject in subjects:
            key = (subject, decision.allowed, str(decision.reason), decision.emergency)
            groups[key].append(item_id)
    return [
        AccessEntry(
            actor=request.principal.user,
            org=request.principal.partner,
            role=request.role,
            purpose=request.purpose,
            case_id=case_id,
            decision="allowed" if allowed else "denied",
            reason=reason,
            fact_ids=tuple(ids),
            subject=pseudonym(subject),
            on_behalf_of=request.principal.on_behalf_of or "",
            emergency=emergency,
            trace_id=request.trace_id,
            note=glass_note(glass) if emergency else note,
            covenant=covenant.reference,
        )
        for (subject, allowed, reason, emergency), ids in groups.items()
    ]
