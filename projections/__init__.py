"""The read side: tracked projections of the ledger and role views assembled through policy."""

from projections._action_list import (
    ACTION_STATUSES,
    ActionPage,
    ActionQuery,
    CaseActionView,
    is_overdue,
)
from projections._apply import ProjectionGapError
from projections._meeting_reads import MeetingReads, MinutesRead
from projections._privacy import PrivacyOffice
from projections._privacy_records import AccessReport, RetentionReport
from projections._read_records import (
    ActionView,
    CaseOverview,
    CaseSummary,
    FactView,
    ReadDeniedError,
    ReadRefusedError,
    ReadRequest,
)
from projections._runner import ProjectionRunner
from projections._starting_point import StartingPointView
from projections._store import PROJECTIONS_FILE, CaseViews, open_views
from projections._views import ReadService

__all__ = [
    "ACTION_STATUSES",
    "PROJECTIONS_FILE",
    "AccessReport",
    "ActionPage",
    "ActionQuery",
    "ActionView",
    "CaseActionView",
    "CaseOverview",
    "CaseSummary",
    "CaseViews",
    "FactView",
    "MeetingReads",
    "MinutesRead",
    "PrivacyOffice",
    "ProjectionGapError",
    "ProjectionRunner",
    "ReadDeniedError",
    "ReadRefusedError",
    "ReadRequest",
    "ReadService",
    "RetentionReport",
    "StartingPointView",
    "is_overdue",
    "open_views",
]
