"""The action list across cases (``GET /v1/actions``), through the one read pipeline:

    candidate actions from the projections (filters, keyset order)
    -> ``decide_action_listing`` (refused: 403/422 with its reason, logged)
    -> ``decide_case_read`` per case (the same decision as a case's own action list)
    -> one access-log entry per case whose actions the page shows (log before reveal)
    -> open the action texts of those cases -> the page

Actions stay visible to every active participant and the clerk, as on a case's own list: a
partner's candidates are the cases it takes part in; only a reader the policy may admit beyond
participation (``reads_beyond_participation``: the privacy officer, metadata) gets every case,
each still decided. The partnership office takes part in every case, so its procesregisseur
sees every case's actions, and with ``overdue`` the overdue overview.

An action is **overdue** when its due date lies before today (the service clock's date, UTC)
and its status is ``open`` or ``in_progress``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ledger import AccessEntry
from policies import (
    AccessDecision,
    Disclosure,
    decide_action_listing,
    decide_case_read,
    reads_beyond_participation,
)
from projections._read_records import ActionView, ReadRefusedError, ReadRequest

if TYPE_CHECKING:
    from projections._views import ReadService

ACTION_STATUSES = ("open", "in_progress", "done", "cancelled")
#: Statuses in which an action past its due date is overdue.
PENDING_STATUSES = ("open", "in_progress")
#: Rows fetched per round while the policy filters a page (a page needs at most limit + 1).
_BATCH = 200
#: The columns of one action row; a new ``cl_actions`` column joins here and in
#: ``_row_view`` (and in ``projections._view_builders.action_views`` for a case's own list).
_COLUMNS = "a.due, a.case_id, a.action_id, a.assignee, a.status"

#: Where a page ends: (due, case_id, action_id) of its last action, the keyset order.
PagePosition = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class ActionQuery:
    """What to list. ``assignee``: a partner id (the route resolves ``me``); ``statuses``:
    only these (None: all); ``overdue``: only overdue (True), only not overdue (False), both
    (None); ``after``: continue after this position; at most ``limit`` actions."""

    assignee: str | None = None
    statuses: frozenset[str] | None = None
    overdue: bool | None = None
    after: PagePosition | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class CaseActionView:
    """One action of the list with its case (``action`` as on the case's own list)."""

    case_id: str
    action: ActionView
    overdue: bool


@dataclass(frozen=True, slots=True)
class ActionPage:
    actions: tuple[CaseActionView, ...]
    #: The position to continue after, or None on the last page.
    next: PagePosition | None
    #: The date overdue was measured against.
    today: str


def is_overdue(due: str, status: str, today: date) -> bool:
    """Due before ``today`` and still pending (due dates are ISO dates: text order is date
    order)."""
    return status in PENDING_STATUSES and due < today.isoformat()


def list_actions(reads: ReadService, request: ReadRequest, query: ActionQuery) -> ActionPage:
    """One page of the actions ``request``'s reader may see, in (due, case, action) order."""
    now = reads.clock()
    today = now.date()
    listing = decide_action_listing(reads.covenant, request.principal, request.purpose)
    if not listing.allowed:
        reads.access_log.append([reads.case_entry(request, "", listing)], now=now)
        raise ReadRefusedError(listing)
    reads.runner.catch_up()  # read your own writes
    decisions: dict[str, AccessDecision] = {}
    picked: list[tuple[str, str, str, str, str]] = []
    position = query.after
    while len(picked) <= query.limit:
        rows = _candidates(reads, request, query, today, position)
        for row in rows:
            case_id = row[1]
            if case_id not in decisions:
                decisions[case_id] = _decide(reads, request, case_id, now)
            if decisions[case_id].allowed:
                picked.append(row)
                if len(picked) > query.limit:
                    break
        if len(rows) < _BATCH:
            break
        position = (rows[-1][0], rows[-1][1], rows[-1][2])
    more = len(picked) > query.limit
    page = picked[: query.limit]
    cases = sorted({row[1] for row in page})
    _log(reads, request, now, listing, [(c, decisions[c]) for c in cases])
    texts = {
        c: reads.open_action_texts(c)
        for c in cases
        if decisions[c].disclosure is not Disclosure.metadata
    }
    actions = tuple(
        CaseActionView(row[1], _row_view(row, texts.get(row[1])), is_overdue(row[0], row[4], today))
        for row in page
    )
    last = page[-1] if page else None
    return ActionPage(
        actions,
        (last[0], last[1], last[2]) if more and last is not None else None,
        today.isoformat(),
    )


def _row_view(row: Sequence[str], texts: dict[str, str] | None) -> ActionView:
    """An action row as shown; ``texts`` None: a metadata-only view, without ``what``."""
    due, _, action_id, assignee, status = row
    what = None if texts is None else texts.get(action_id, "")
    return ActionView(action_id, assignee, what, due, status)


def _decide(
    reads: ReadService, request: ReadRequest, case_id: str, now: datetime
) -> AccessDecision:
    snapshot = reads.snapshot(case_id, catch_up=False)
    return decide_case_read(reads.covenant, request.principal, request.purpose, snapshot.state, now)


def _log(
    reads: ReadService,
    request: ReadRequest,
    now: datetime,
    listing: AccessDecision,
    shown: Sequence[tuple[str, AccessDecision]],
) -> None:
    """The listing's entry (no case), then one case entry per case the page shows actions of,
    as a case's own list logs; appended before anything is returned (raises: nothing shown)."""
    entries: list[AccessEntry] = [reads.case_entry(request, "", listing)]
    entries += [reads.case_entry(request, c, d) for c, d in shown]
    reads.access_log.append(entries, now=now)


def _candidates(
    reads: ReadService,
    request: ReadRequest,
    query: ActionQuery,
    today: date,
    after: PagePosition | None,
) -> list[tuple[str, str, str, str, str]]:
    """Up to ``_BATCH`` candidate rows after ``after`` matching the query's filters."""
    sql = [f"SELECT {_COLUMNS} FROM cl_actions a"]  # noqa: S608 - constants and ? only
    params: list[Any] = []
    if not reads_beyond_participation(reads.covenant, request.principal, request.purpose):
        # Nobody else can be allowed a case its partner does not take part in.
        sql.append(
            "JOIN cl_participants p ON p.case_id = a.case_id AND p.org = ? AND p.removed_at IS NULL"
        )
        params.append(request.principal.partner)
    where = ["1 = 1"]
    if query.assignee is not None:
        where.append("a.assignee = ?")
        params.append(query.assignee)
    if query.statuses is not None:
        where.append(f"a.status IN ({', '.join('?' for _ in query.statuses)})")
        params.extend(sorted(query.statuses))
    if query.overdue is not None:
        overdue = "(a.due < ? AND a.status IN (?, ?))"
        where.append(overdue if query.overdue else f"NOT {overdue}")
        params.extend([today.isoformat(), *PENDING_STATUSES])
    if after is not None:
        due, case_id, action_id = after
        where.append(
            "(a.due > ? OR (a.due = ? AND (a.case_id > ? OR (a.case_id = ? AND a.action_id > ?))))"
        )
        params.extend([due, due, case_id, case_id, action_id])
    sql.append("WHERE " + " AND ".join(where))
    sql.append(f"ORDER BY a.due, a.case_id, a.action_id LIMIT {_BATCH}")
    return [
        (str(d), str(c), str(a), str(s), str(st))
        for d, c, a, s, st in reads.views.fetch(" ".join(sql), tuple(params))
    ]
