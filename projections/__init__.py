"""The read side: tracked projections of the ledger and role views assembled through policy."""

from projections._apply import ProjectionGapError
from projections._runner import ProjectionRunner
from projections._store import CaseViews, open_views
from projections._views import (
    ActionView,
    CaseOverview,
    CaseSummary,
    FactView,
    ReadDeniedError,
    ReadRequest,
    ReadService,
)

__all__ = [
    "ActionView",
    "CaseOverview",
    "CaseSummary",
    "CaseViews",
    "FactView",
    "ProjectionGapError",
    "ProjectionRunner",
    "ReadDeniedError",
    "ReadRequest",
    "ReadService",
    "open_views",
]
