"""Reading meetings and minutes: each reader sees the items of the cases it takes part in.

A meeting view holds, per visible item, its case, the invited and present partners and the
minutes' ids and states (never their text); of every other item only their number
(``hidden_items``), so an agenda leaks no id, subject or title of another case. Minutes text
goes through the one read pipeline: a policy decision per version, the access-log entries
appended (fail closed), then the bodies opened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import (
    AccessEntry,
    CaseNotFoundError,
    LedgerError,
    Meeting,
    MinutesState,
    MinutesVersion,
    minutes_context,
)
from policies import (
    AccessDecision,
    CaseState,
    Disclosure,
    MinutesMetadata,
    PartnerId,
    decide_case_read,
    decide_minutes_read,
    sees_item,
)
from projections._access_entries import subject_entries
from projections._meeting_apply import utc_text
from projections._read_records import ReadDeniedError, ReadRequest
from projections._views import ReadService


@dataclass(frozen=True, slots=True)
class MinutesRead:
    """One version of minutes as a reader may see it (``body`` None once unreadable)."""

    minutes_id: str
    meeting_id: str
    item_id: str
    version: int
    status: str
    subjects: tuple[str, ...]
    sharing: tuple[str, ...]
    written_at: str
    body: Any | None


class MeetingReads:
    """Meeting views and case minutes over the ledger's meetings and the case projections."""

    def __init__(self, reads: ReadService) -> None:
        self.reads = reads
        self.ledger = reads.ledger

    # -- meetings -------------------------------------------------------------------------

    def meeting(self, request: ReadRequest, meeting_id: str) -> dict[str, Any]:
        """The meeting as ``request``'s reader may see it; MeetingNotFoundError if none."""
        self.reads.runner.catch_up()
        return self._view(request, self.ledger.get_meeting(meeting_id), self.reads.clock())

    def meetings(
        self, request: ReadRequest, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        """Meetings scheduled in [start, end) that show the reader at least one item, or
        that it chairs; by scheduled time.

        The meeting tables narrow the meetings to load to those in the window that the
        reader chairs or that have an item about a case its partner was ever invited to;
        what shows of each is decided per item on the meeting as it decodes now.
        """
        self.reads.runner.catch_up()
        now = self.reads.clock()
        principal = request.principal
        found = []
        for meeting_id in self._candidate_meetings(start, end, principal.user, principal.partner):
            meeting = self.ledger.get_meeting(meeting_id)
            view = self._view(request, meeting, now)
            if view["items"] or principal.user == meeting.chair:
                found.append(view)
        return sorted(found, key=lambda v: (v["scheduled_at"], v["meeting_id"]))

    def _candidate_meetings(
        self, start: datetime | None, end: datetime | None, user: str, partner: str
    ) -> list[str]:
        window = ""
        params: list[Any] = [user, partner]
        if start is not None:
            window += " AND m.scheduled_at >= ?"
            params.append(utc_text(start))
        if end is not None:
            window += " AND m.scheduled_at < ?"
            params.append(utc_text(end))
        rows = self.reads.views.fetch(
            "SELECT m.meeting_id FROM cl_meetings m WHERE (m.chair = ? OR EXISTS ("  # noqa: S608
            " SELECT 1 FROM cl_agenda a JOIN cl_participants p ON p.case_id = a.case_id"
            " WHERE a.meeting_id = m.meeting_id AND p.org = ?))" + window,
            params,
        )
        return [str(r[0]) for r in rows]

    def due_cases(self, request: ReadRequest) -> list[dict[str, Any]]:
        """The active cases the caller may see that no planned meeting has on its agenda
        from now on: due for a meeting (the procesregisseur's overview), each with the time
        of its last meeting held (UTC), if any."""
        now = self.reads.clock()
        cases = [c for c in self.reads.list_cases(request) if c.status == "active"]
        on_agenda = (
            " FROM cl_agenda a JOIN cl_meetings m ON m.meeting_id = a.meeting_id"
            " WHERE a.case_id IS NOT NULL AND "
        )
        planned = {
            str(r[0])
            for r in self.reads.views.fetch(
                "SELECT DISTINCT a.case_id" + on_agenda + "m.status = 'planned'"
                " AND m.scheduled_at >= ?",
                (utc_text(now),),
            )
        }
        last = {
            str(case_id): datetime.fromisoformat(str(when))
            for case_id, when in self.reads.views.fetch(
                "SELECT a.case_id, MAX(m.scheduled_at)" + on_agenda + "m.status IN"
                " ('held', 'closed') GROUP BY a.case_id"
            )
        }
        return [
            {"case_id": c.case_id, "phase": c.phase, "last_meeting_at": _iso(last.get(c.case_id))}
            for c in cases
            if c.case_id not in planned
        ]

    def _actions(self, case_id: str, meeting_id: str, item_id: str) -> list[dict[str, Any]]:
        """Actions agreed at the item (no texts: those are read with the action list)."""
        try:
            actions = self.ledger.get_case(case_id).actions
        except LedgerError:
            return []
        return [
            {"action_id": action_id, "assignee": a.assignee, "due": a.due, "status": a.status}
            for action_id, a in actions.items()
            if a.meeting_id == meeting_id and a.item_id == item_id
        ]

    def _view(self, request: ReadRequest, meeting: Meeting, now: datetime) -> dict[str, Any]:
        states: dict[str, CaseState | None] = {}
        items = []
        for item in sorted(meeting.items.values(), key=lambda i: i.order):
            case_id = item.case_id
            if case_id is not None and case_id not in states:
                states[case_id] = self._state(case_id)
            state = states.get(case_id) if case_id is not None else None
            if not sees_item(request.principal, state, now):
                continue
            items.append(
                {
                    "item_id": item.item_id,
                    "order": item.order,
                    "case_id": case_id,
                    "invited": list(item.invited),
                    "present_partners": list(item.present_partners),
                    "present_users": list(item.present_users),
                    "minutes": [
                        {
                            "minutes_id": m.minutes_id,
                            "version": m.current.version,
                            "status": _status(m.current),
                        }
                        for m in item.minutes.values()
                    ],
                    "actions": self._actions(str(case_id), meeting.meeting_id, item.item_id),
                }
            )
        return {
            "meeting_id": meeting.meeting_id,
            "scheduled_at": _iso(meeting.scheduled_at),
            "place": meeting.place,
            "chair": meeting.chair,
            "status": meeting.status,
            "next_at": _iso(meeting.next_at),
            "items": items,
            "hidden_items": len(meeting.items) - len(items),
            "version": meeting.version,
        }

    def _state(self, case_id: str) -> CaseState | None:
        try:
            return self.reads.snapshot(case_id, catch_up=False).state
        except CaseNotFoundError:
            return None

    # -- minutes --------------------------------------------------------------------------

    def case_minutes(self, request: ReadRequest, case_id: str) -> list[MinutesRead]:
        """Every version of the case's minutes the reader may read, opened after the log.

        ReadDeniedError (a 404) when the reader may not see the case at all.
        """
        now = self.reads.clock()
        snapshot = self.reads.snapshot(case_id)
        case_decision = decide_case_read(
            self.reads.covenant, request.principal, request.purpose, snapshot.state, now
        )
        drafts_visible = self.reads.covenant.meetings.drafts_visible_to_participants
        found: list[tuple[str, MinutesState, MinutesVersion, AccessDecision]] = []
        for meeting_id in self._meetings_of_case(case_id):
            meeting = self.ledger.get_meeting(meeting_id)
            for item in meeting.items.values():
                if item.case_id != case_id:
                    continue
                for minutes in item.minutes.values():
                    latest_final = _latest_approved(minutes)
                    for version in minutes.versions:
                        meta = MinutesMetadata(
                            minutes.minutes_id,
                            version.version,
                            version.approved_at is not None,
                            frozenset(map(PartnerId, minutes.sharing_partners)),
                            superseded=latest_final is not None and version.version < latest_final,
                        )
                        decision = decide_minutes_read(
                            self.reads.covenant,
                            request.principal,
                            request.purpose,
                            snapshot.state,
                            meta,
                            now,
                            drafts_visible=drafts_visible,
                        )
                        found.append((meeting_id, minutes, version, decision))
        allowed = [f for f in found if f[3].allowed]
        entries = [self.reads.case_entry(request, case_id, case_decision)]
        if not case_decision.allowed and not allowed:
            self.reads.access_log.append(entries, now=now)
            raise ReadDeniedError("case not found")
        entries += self._entries(request, case_id, found)
        self.reads.access_log.append(entries, now=now)  # log before reveal
        opened = self._open_shown(request, case_id, allowed)
        return [
            _minutes_read(meeting_id, m, v, opened.get((m.minutes_id, v.version)))
            for meeting_id, m, v, _ in allowed
        ]

    def _meetings_of_case(self, case_id: str) -> list[str]:
        """The meetings with an item about the case, in the order they were planned."""
        rows = self.reads.views.fetch(
            "SELECT DISTINCT m.meeting_id, m.planned_at FROM cl_agenda a"
            " JOIN cl_meetings m ON m.meeting_id = a.meeting_id WHERE a.case_id = ?"
            " ORDER BY m.planned_at, m.meeting_id",
            (case_id,),
        )
        return [str(r[0]) for r in rows]

    def _open_shown(
        self,
        request: ReadRequest,
        case_id: str,
        allowed: list[tuple[str, MinutesState, MinutesVersion, AccessDecision]],
    ) -> dict[tuple[str, int], bytes | None]:
        """The text of the versions whose decision disclosed content, opened in one call for
        the purpose the decisions admitted; None where a key was destroyed (an unreachable
        key provider raises: fail closed)."""
        shown = [(m_id, m, v) for m_id, m, v, d in allowed if d.disclosure is Disclosure.content]
        if not shown:
            return {}
        bodies = self.ledger.open_minutes_bodies(
            case_id,
            [
                (v.sealed_body, minutes_context(m_id, m.minutes_id, v.version))
                for m_id, m, v in shown
            ],
            purpose=request.purpose,
        )
        return {
            (m.minutes_id, v.version): raw for (_, m, v), raw in zip(shown, bodies, strict=True)
        }

    def _entries(
        self,
        request: ReadRequest,
        case_id: str,
        found: list[tuple[str, MinutesState, MinutesVersion, AccessDecision]],
    ) -> list[AccessEntry]:
        """One entry per (subject, decision, reason), naming minutes versions, never content."""
        read = (
            (f"{minutes.minutes_id}:{version.version}", minutes.subjects, decision)
            for _, minutes, version, decision in found
        )
        return subject_entries(
            request,
            case_id,
            read,
            self.reads.covenant,
            self.reads.access_log.pseudonym,
            note="minutes",
        )


def _minutes_read(
    meeting_id: str, minutes: MinutesState, version: MinutesVersion, raw: bytes | None
) -> MinutesRead:
    """The minutes as read; ``raw`` is the opened text, None for metadata only."""
    return MinutesRead(
        minutes_id=minutes.minutes_id,
        meeting_id=meeting_id,
        item_id=minutes.item_id,
        version=version.version,
        status=_status(version),
        subjects=minutes.subjects,
        sharing=minutes.sharing_partners,
        written_at=version.written_at.isoformat(),
        body=None if raw is None else json.loads(raw),
    )


def _status(version: MinutesVersion) -> str:
    return "final" if version.approved_at is not None else "draft"


def _latest_approved(minutes: MinutesState) -> int | None:
    approved = [v.version for v in minutes.versions if v.approved_at is not None]
    return max(approved) if approved else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
