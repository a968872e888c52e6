"""Meeting decisions: who plans and records a case conference, who sees which agenda item,
and who reads which minutes (docs/domain.md, "Case conference", "Minutes and actions").

A meeting spans cases, so every item is judged on the case it belongs to: a partner sees an
item only while it is an active participant of that item's case (need to know); of the
other items it learns at most how many there are. The clerk records attendance and minutes
and reads meeting data and minutes, never facts (``decide_fact_read`` keeps refusing it).

==================  ===========================================  ===========================
action              who                                          also
==================  ===========================================  ===========================
schedule            procesregisseur                              becomes the chair
reschedule          procesregisseur                              meeting planned
add_item            procesregisseur                              meeting planned or held
record_attendance   administratief_medewerker (clerk)            meeting planned or held
write_minutes       clerk                                        meeting planned or held
approve_minutes     the chair of the meeting                     minutes in draft
close               procesregisseur                              meeting planned or held
cancel              procesregisseur                              meeting planned
review_due_cases    procesregisseur                              (a read: cases due)
==================  ===========================================  ===========================

Minutes are owned by the partnership office (``OFFICE``): its procesregisseur and clerk read
every version, drafts included. Other readers need the case active, their partner an active
participant, named by the minutes' sharing (by default the partners present at the item), and
the latest approved version (a draft only when the covenant shows drafts to participants).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from policies._checks import (
    check_compatible,
    check_participant,
    check_principal,
    check_purpose,
)
from policies._covenant import Covenant
from policies._fact_read import metadata_view
from policies._identity import PartnerId, Principal, UserId
from policies._inputs import CaseState, CaseStatus, Role, require_aware
from policies._reasons import AccessDecision, ReasonCode, allow, deny

R = ReasonCode
#: The partnership office: owner of minutes, home of the chair and the clerk.
OFFICE = PartnerId("zvh")


class MeetingAction(StrEnum):
    """The commands of the Meeting aggregate that policy rules on."""

    schedule = "schedule"
    reschedule = "reschedule"
    add_item = "add_item"
    record_attendance = "record_attendance"
    write_minutes = "write_minutes"
    approve_minutes = "approve_minutes"
    close = "close"
    cancel = "cancel"
    #: Not a write: the overview of cases due for a meeting.
    review_due_cases = "review_due_cases"


M = MeetingAction
_DIRECTOR = frozenset({Role.procesregisseur})
_CLERK = frozenset({Role.administratief_medewerker})
_WHO: dict[MeetingAction, frozenset[Role]] = {
    M.schedule: _DIRECTOR,
    M.reschedule: _DIRECTOR,
    M.add_item: _DIRECTOR,
    M.close: _DIRECTOR,
    M.cancel: _DIRECTOR,
    M.review_due_cases: _DIRECTOR,
    M.record_attendance: _CLERK,
    M.write_minutes: _CLERK,
    M.approve_minutes: _DIRECTOR,
}
_OFFICE_READERS = frozenset({Role.procesregisseur, Role.administratief_medewerker})


def meeting_roles(action: MeetingAction) -> tuple[str, ...]:
    """The roles of which the caller needs one for ``action`` (for messages)."""
    return tuple(sorted(_WHO[action]))


def decide_meeting_write(
    covenant: Covenant,
    principal: Principal,
    action: MeetingAction,
    *,
    chair: UserId | None = None,
) -> AccessDecision:
    """May ``principal`` perform ``action`` on a meeting chaired by ``chair``?

    The meeting's status and the existence of its items are the aggregate's invariants;
    this decides the caller: partner declared, the role the action needs, and for
    ``approve_minutes`` the chair in person.
    """
    denial = check_principal(covenant, principal)
    if denial is not None:
        return denial
    basis = f"meeting action={action}"
    if not principal.roles & _WHO[action]:
        return deny(R.role_required, f"{basis}; needs {'/'.join(sorted(_WHO[action]))}")
    if action is M.approve_minutes and principal.user != chair:
        return deny(R.not_owner, f"{basis}; only the chair approves minutes")
    return allow(R.allowed_role, basis)


def sees_item(principal: Principal, case: CaseState | None, now: datetime) -> bool:
    """Whether an agenda item of ``case`` shows in ``principal``'s view of a meeting.

    Only while the reader's partner takes part in the case (and the case is not erased): an
    item of any other case, or one whose case data was erased (``case`` None), is counted,
    never shown.
    """
    require_aware("now", now)
    if case is None or case.status is CaseStatus.erased:
        return False
    return case.is_active_participant(principal.partner, now)


@dataclass(frozen=True, slots=True)
class MinutesMetadata:
    """What policy needs of one version of minutes: never their text."""

    minutes_id: str
    version: int
    approved: bool
    sharing_partners: Collection[PartnerId]
    #: A later version was approved: only the owner still reads this one.
    superseded: bool = False


def decide_minutes_read(
    covenant: Covenant,
    principal: Principal,
    purpose: str,
    case: CaseState,
    minutes: MinutesMetadata,
    now: datetime,
    *,
    drafts_visible: bool = False,
) -> AccessDecision:
    """May ``principal`` read this version of a case's minutes for ``purpose`` at ``now``?

    Minutes serve the case's purpose: another purpose reads them only where the covenant
    declares it compatible, and a metadata purpose (the privacy officer's) shows that they
    exist, never their text. ``drafts_visible``: the covenant lets participants read minutes
    before the chair approved them (default: hidden until approved).
    """
    require_aware("now", now)
    denial = check_principal(covenant, principal) or check_purpose(covenant, purpose)
    if denial is not None:
        return denial
    basis = f"minutes={minutes.minutes_id}; version={minutes.version}"
    if case.status is CaseStatus.erased:
        return deny(R.erased, basis)
    if covenant.discloses_metadata_only(purpose):
        return metadata_view(principal, purpose, basis)
    denial = check_compatible(covenant, case.purpose, purpose)
    if denial is not None:
        return denial
    if principal.partner == OFFICE and principal.roles & _OFFICE_READERS:
        return allow(R.allowed_owner, f"{basis}; owner={OFFICE}")
    if case.status is CaseStatus.closed:
        return deny(R.case_closed, basis)
    denial = check_participant(case, principal.partner, now)
    if denial is not None:
        return denial
    if minutes.superseded:
        return deny(R.sharing_excludes_reader, f"{basis}; superseded by a later approved version")
    if not minutes.approved and not drafts_visible:
        return deny(R.sharing_excludes_reader, f"{basis}; draft awaiting the chair")
    if principal.partner not in minutes.sharing_partners:
        return deny(R.sharing_excludes_reader, f"{basis}; shared with the partners present")
    return allow(R.allowed_named_partner, f"{basis}; {principal.partner} was present")


def cancelled_meeting_deadline(covenant: Covenant, cancelled_at: datetime) -> datetime:
    """When a cancelled meeting's case data is due for erasure (``[meetings]
    cancelled_kept_days`` after the cancellation)."""
    require_aware("cancelled_at", cancelled_at)
    return cancelled_at + timedelta(days=covenant.meetings.cancelled_kept_days)
