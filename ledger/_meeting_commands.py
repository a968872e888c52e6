"""Commands on meetings (case conferences): plan, reschedule, agenda, attendance, minutes.

A meeting is its own aggregate (it spans cases). Each command loads it fresh from the event
store (meetings are small and never cached: an erasure must take effect on the next load),
lets it check its invariants, and saves its events, with an idempotency record when the
caller gave a key. Putting a case on the agenda invites the partners the item needs to the
case by the invite rule (an active case, invited once), in the same commit as the item.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, RecordConflictError

from ledger import _erasure
from ledger._bodies import encode_body
from ledger._case import REGISTRY_OWNER, Case
from ledger._command_data import ErasureReport, RequestContext, WriteResult
from ledger._erasure import PlanWriter
from ledger._erasure_commands import ErasureCommands
from ledger._errors import CaseStatusError, ConcurrencyConflictError, InvalidCommandError
from ledger._idempotency import IdempotentCall
from ledger._meeting import (
    OFFICE,
    Meeting,
    MeetingNotFoundError,
    meeting_key_subject,
    meeting_uuid,
)

MeetingDecide = Callable[[Meeting], str | None]


def minutes_context(meeting_id: str, minutes_id: str, version: int) -> bytes:
    """Associated data of a minutes body: its meeting, minutes and version."""
    return f"minutes|meeting={meeting_id}|minutes={minutes_id}|version={version}".encode()


class MeetingCommands(ErasureCommands):
    """Meetings (mixed into ``CaseLedger``; erasing a meeting's data uses the erasure
    primitives)."""

    _meeting_lock = threading.Lock()

    # -- loading --------------------------------------------------------------------------

    def get_meeting(self, meeting_id: str) -> Meeting:
        """The meeting as it decodes now; MeetingNotFoundError if there is none."""
        self._pipeline.sync()
        try:
            meeting: object = self.repository.get(meeting_uuid(meeting_id))
        except AggregateNotFoundError:
            raise MeetingNotFoundError("meeting not found") from None
        if not isinstance(meeting, Meeting):
            raise MeetingNotFoundError("meeting not found")
        return meeting

    def require_item_for_case(self, meeting_id: str, item_id: str, case_id: str) -> None:
        """The meeting exists and ``item_id`` is its item about ``case_id``; else
        InvalidCommandError ``item_not_for_case`` (the ids came in a request body)."""
        try:
            self.get_meeting(meeting_id).item_for_case(item_id, case_id)
        except MeetingNotFoundError:
            raise InvalidCommandError(
                "no such agenda item for this case", code="item_not_for_case"
            ) from None

    # -- commands -------------------------------------------------------------------------

    def schedule_meeting(
        self,
        ctx: RequestContext,
        *,
        scheduled_at: datetime,
        place: str,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Plan a meeting chaired by the caller; ``created_id`` is the meeting id."""
        arguments = {"scheduled_at": scheduled_at.isoformat(), "place": place}
        partner = ctx.principal.partner
        call = IdempotentCall.of(partner, "meeting", idempotency_key, "schedule", arguments)
        if call is not None:
            replay = self._pipeline.replay(call)
            if replay is not None:
                return replay
        meeting = Meeting._create(
            Meeting.Scheduled,
            id=uuid.uuid4(),
            **self._pipeline.metadata(ctx),
            scheduled_at=scheduled_at,
            place=place,
            chair=ctx.principal.user,
        )
        return self._save_meeting(ctx, meeting, meeting.meeting_id, call)

    def reschedule_meeting(
        self,
        ctx: RequestContext,
        meeting_id: str,
        *,
        scheduled_at: datetime,
        reason: str,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(meeting: Meeting) -> None:
            meeting.require_status("planned")
            self._pipeline.trigger(
                meeting, ctx, Meeting.Rescheduled, scheduled_at=scheduled_at, reason=reason
            )

        arguments = {"scheduled_at": scheduled_at.isoformat(), "reason": reason}
        return self._run_meeting(ctx, meeting_id, "reschedule", arguments, decide, idempotency_key)

    def add_agenda_item(
        self,
        ctx: RequestContext,
        meeting_id: str,
        *,
        case_id: str,
        invited: Sequence[str],
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Put a case on the agenda and invite to the case each invited partner that does
        not take part in it yet (as the invite route would), in one commit: the item and
        the invitations are stored together or not at all. ``created_id``: the item id."""
        partners = sorted(set(invited))
        self.get_meeting(meeting_id).require_status("planned", "held")  # unknown: 404 first
        # The office's keys (of the case, of this meeting in it) before any event sealed
        # with them.
        self.keys.scope_key(OFFICE, case_id)
        self.keys.scope_key(OFFICE, case_id, meeting_key_subject(meeting_id))
        item_id = uuid.uuid4().hex
        arguments = {"case_id": case_id, "invited": partners}
        call = IdempotentCall.of(
            ctx.principal.partner, meeting_id, idempotency_key, "agenda", arguments
        )
        if call is not None:
            self.keys.scope_key(REGISTRY_OWNER, meeting_id)

        def decide(case: Case) -> tuple[Meeting, str]:
            case.require_status("active")
            for org in partners:
                if not case.is_active_participant(org):
                    self._pipeline.trigger(case, ctx, Case.ParticipantInvited, org=org)
            meeting = self.get_meeting(meeting_id)
            meeting.require_status("planned", "held")
            order = len(meeting.items) + 1
            self._pipeline.trigger(meeting, ctx, Meeting.ItemPlaced, item_id=item_id, order=order)
            self._pipeline.trigger(
                meeting,
                ctx,
                Meeting.ItemAssigned,
                item_id=item_id,
                case_id=case_id,
                invited=partners,
            )
            return meeting, item_id

        with self._meeting_lock:  # then the case's lock: the only place both are held
            return self._pipeline.run_with(
                ctx, case_id, decide, call=call, record_scope=(REGISTRY_OWNER, meeting_id)
            )

    def record_attendance(
        self,
        ctx: RequestContext,
        meeting_id: str,
        item_id: str,
        *,
        partners: Sequence[str],
        users: Sequence[str],
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Who was present at an item (replaces what was recorded); the meeting is held."""
        present = sorted(set(partners))
        people = sorted(set(users))

        def decide(meeting: Meeting) -> None:
            meeting.require_status("planned", "held")
            item = self._live_item(meeting, item_id)
            self._pipeline.trigger(
                meeting,
                ctx,
                Meeting.AttendanceRecorded,
                item_id=item_id,
                case_id=item.case_id,
                partners=present,
                users=people,
            )

        arguments = {"item_id": item_id, "partners": present, "users": people}
        return self._run_meeting(ctx, meeting_id, "attendance", arguments, decide, idempotency_key)

    def write_minutes(
        self,
        ctx: RequestContext,
        meeting_id: str,
        item_id: str,
        *,
        body: Any,
        subjects: Sequence[str] = (),
        sharing_partners: Sequence[str] | None = None,
        minutes_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """Minutes of an item, owned by the office and sealed under its keys of the item's
        case and of ``subjects``. With ``minutes_id``, a correction: a new version, the
        earlier ones kept. Sharing defaults to the partners present. ``created_id``: the
        minutes id."""
        plaintext = encode_body(body)
        about = sorted(set(subjects))
        new_id = minutes_id or uuid.uuid4().hex
        item = self._live_item(self.get_meeting(meeting_id), item_id)
        case_id = str(item.case_id)
        earlier = item.minutes.get(new_id)
        if earlier is not None and not about:
            about = list(earlier.subjects)  # a correction concerns the same subjects
        self.get_case(case_id).require_subjects(about)
        for subject in about:
            self.keys.scope_key(OFFICE, case_id, subject)

        def decide(meeting: Meeting) -> str:
            meeting.require_status("planned", "held", "closed")
            current = self._live_item(meeting, item_id)
            existing = current.minutes.get(new_id)
            if minutes_id is not None and existing is None:
                raise MeetingNotFoundError("no such minutes")
            version = 1 if existing is None else existing.current.version + 1
            shared = sorted(
                set(
                    existing.sharing_partners
                    if existing is not None and sharing_partners is None
                    else sharing_partners
                    if sharing_partners is not None
                    else current.present_partners
                )
            )
            sealed = self.keys.seal_body(
                OFFICE,
                case_id,
                [meeting_key_subject(meeting_id), *about],
                plaintext,
                minutes_context(meeting_id, new_id, version),
            )
            self._pipeline.trigger(
                meeting,
                ctx,
                Meeting.MinutesWritten,
                item_id=item_id,
                case_id=case_id,
                minutes_id=new_id,
                minutes_version=version,
                subjects=about,
                sharing_partners=shared,
                fact_key_id=sealed.fact_key_id,
                sealed_body=sealed.blob,
            )
            return new_id

        arguments = {
            "item_id": item_id,
            "minutes_id": minutes_id,
            "subjects": sorted(set(subjects)),
            "sharing": sharing_partners,
            "body": plaintext.decode(),
        }
        return self._run_meeting(ctx, meeting_id, "minutes", arguments, decide, idempotency_key)

    def approve_minutes(
        self,
        ctx: RequestContext,
        meeting_id: str,
        item_id: str,
        minutes_id: str,
        *,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        """The chair approves the current version of an item's minutes (draft -> final)."""

        def decide(meeting: Meeting) -> None:
            item = self._live_item(meeting, item_id)
            minutes = item.minutes.get(minutes_id)
            if minutes is None:
                raise MeetingNotFoundError("no such minutes")
            current = minutes.current
            if current.approved_at is not None:
                raise CaseStatusError("already approved", code="minutes_approved")
            self._pipeline.trigger(
                meeting,
                ctx,
                Meeting.MinutesApproved,
                item_id=item_id,
                case_id=item.case_id,
                minutes_id=minutes_id,
                minutes_version=current.version,
            )

        arguments = {"item_id": item_id, "minutes_id": minutes_id}
        return self._run_meeting(ctx, meeting_id, "approve", arguments, decide, idempotency_key)

    def close_meeting(
        self,
        ctx: RequestContext,
        meeting_id: str,
        *,
        next_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(meeting: Meeting) -> None:
            meeting.require_status("planned", "held")
            self._pipeline.trigger(meeting, ctx, Meeting.Closed, next_at=next_at)

        arguments = {"next_at": next_at.isoformat() if next_at else None}
        return self._run_meeting(ctx, meeting_id, "close", arguments, decide, idempotency_key)

    def cancel_meeting(
        self,
        ctx: RequestContext,
        meeting_id: str,
        *,
        reason: str,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        def decide(meeting: Meeting) -> None:
            meeting.require_status("planned")
            self._pipeline.trigger(meeting, ctx, Meeting.Cancelled, reason=reason)

        return self._run_meeting(
            ctx, meeting_id, "cancel", {"reason": reason}, decide, idempotency_key
        )

    def erase_meeting_data(
        self, ctx: RequestContext, meeting_id: str, *, ground: str
    ) -> list[ErasureReport]:
        """Destroy the office's keys of this meeting in each case on its agenda: which cases
        it discussed, attendance and minutes become unreadable for everyone; the cases and
        other meetings are untouched. One erasure (recorded on the case) per case."""
        meeting = self.get_meeting(meeting_id)
        subject = meeting_key_subject(meeting_id)

        def destroy_in(case_id: str) -> Callable[[Any, PlanWriter], object]:
            return lambda _, plan: _erasure.destroy_subject(self.keys, case_id, subject, plan)

        case_ids = sorted({i.case_id for i in meeting.items.values() if i.case_id})
        return [
            self._erase_in_case(
                ctx, case_id, "meeting", meeting_id, ground, None, lambda _: [], destroy_in(case_id)
            )
            for case_id in case_ids
        ]

    # -- running --------------------------------------------------------------------------

    @staticmethod
    def _live_item(meeting: Meeting, item_id: str) -> Any:
        """The item, which must still know its case (not redacted by an erasure)."""
        item = meeting.require_item(item_id)
        if item.case_id is None:
            raise CaseStatusError("the item's case was erased", code="case_erased")
        return item

    def _run_meeting(
        self,
        ctx: RequestContext,
        meeting_id: str,
        name: str,
        arguments: dict[str, Any],
        decide: MeetingDecide,
        idempotency_key: str | None,
    ) -> WriteResult:
        call = IdempotentCall.of(
            ctx.principal.partner, meeting_id, idempotency_key, name, arguments
        )
        if call is not None:
            replay = self._pipeline.replay(call)
            if replay is not None:
                return replay
        with self._meeting_lock:
            meeting = self.get_meeting(meeting_id)
            created = decide(meeting)
            if not meeting.pending_events:
                return WriteResult(meeting_id, meeting.version, created, unchanged=True)
            return self._save_meeting(ctx, meeting, created, call)

    def _save_meeting(
        self,
        ctx: RequestContext,
        meeting: Meeting,
        created: str | None,
        call: IdempotentCall | None,
    ) -> WriteResult:
        meeting_id = meeting.meeting_id
        result = WriteResult(meeting_id, meeting.version, created)
        if call is not None:
            # The record (ids and versions, no case data) is sealed under the ledger's own
            # key of the meeting: never a partner's, so a partner's erasure never meets a
            # meeting id among its cases.
            self.keys.scope_key(REGISTRY_OWNER, meeting_id)
        try:
            return self._save_with_record(
                meeting, result, call, record_scope=(REGISTRY_OWNER, meeting_id)
            )
        except (RecordConflictError, IntegrityError):
            raise ConcurrencyConflictError(meeting_id, None) from None
