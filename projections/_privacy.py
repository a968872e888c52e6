"""The privacy officer's desk: access reports, retention runs, erasure certificates, reviews.

Everything here reads for the ``accountability`` purpose and goes through the same policy
functions and access log as every other read. Content is opened only for an access report,
and only for facts that concern the requesting subject alone (AVG art. 15(4)). Each part
of the desk is its own module; ``PrivacyOffice`` is all of them over one read service.
"""

from __future__ import annotations

from projections._access_report import AccessReports
from projections._erasure_certificates import ErasureCertificates
from projections._privacy_questions import PrivacyQuestions
from projections._privacy_reviews import PrivacyReviews
from projections._retention_run import RetentionRuns


class PrivacyOffice(
    AccessReports, RetentionRuns, ErasureCertificates, PrivacyReviews, PrivacyQuestions
):
    """The privacy officer's operations on top of the one read pipeline."""
