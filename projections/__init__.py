"""The read side: tracked projections of the ledger and role views assembled through policy."""

from projections._apply import ProjectionGapError
from projections._privacy import PrivacyOffice
from projections._privacy_records import AccessReport, RetentionReport
from projections._read_records import (
    ActionView,
    CaseOverview,
    CaseSummary,
    FactView,
    ReadDeniedError,
    ReadRequest,
)
from projections._runner import ProjectionRunner
from projections._store import PROJECTIONS_FILE, CaseViews, open_views
from projections._views import ReadService

__all__ = [
    "PROJECTIONS_FILE",
    "AccessReport",
    "ActionView",
    "CaseOverview",
    "CaseSummary",
    "CaseViews",
    "FactView",
    "PrivacyOffice",
    "ProjectionGapError",
    "ProjectionRunner",
    "ReadDeniedError",
    "ReadRequest",
    "ReadService",
    "RetentionReport",
    "open_views",
]
