"""Answers to the privacy officer's ten questions (docs/domain.md; docs/privacy-officer.md).

Q1 who accessed a subject's data, Q4 special-category exposure, Q6 reads after a consent
withdrawal. The answers come from the access log; a read that showed no content
(``policies.ReasonCode.metadata_only``) or an access report (the person's own data) is not a
disclosure to another reader.
"""

from __future__ import annotations

from typing import Any

from projections._privacy_desk import METADATA_ONLY_REASONS, PrivacyDesk, json_list
from projections._read_records import ReadRequest

#: Art. 9/10 categories: shown beyond the owner and its named partners only by emergency.
_SPECIAL_CATEGORIES = frozenset({"health", "criminal"})


class PrivacyQuestions(PrivacyDesk):
    """The questions answered from the access log."""

    def who_accessed(self, subject_id: str, *, limit: int = 10_000) -> list[Any]:
        """Q1: every read (and refusal) touching the subject: who, when, role, for whom, why."""
        return self.log.entries(subject=self.log.pseudonym(subject_id), limit=limit)

    def special_category_exposure(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Q4: allowed reads of art. 9/10 facts by anyone but the owner and named partners
        (expected: none, except flagged emergency access)."""
        self._require_officer(request)
        special = {
            str(fid): (str(owner), set(json_list(partners)))
            for fid, owner, cats, partners in self.views.fetch(
                "SELECT fact_id, owner, categories, sharing_partners FROM cl_facts"
            )
            if _SPECIAL_CATEGORIES & set(json_list(cats))
        }
        findings = []
        for entry in self.log.entries(decision="allowed", limit=10_000_000):
            if _no_disclosure(entry):
                continue
            for fact_id in entry.fact_ids:
                if fact_id in special:
                    owner, named = special[fact_id]
                    if entry.org != owner and entry.org not in named:
                        findings.append(
                            {
                                "seq": entry.seq,
                                "fact_id": fact_id,
                                "org": entry.org,
                                "emergency": entry.emergency,
                                "note": entry.note,
                            }
                        )
        return findings

    def reads_after_withdrawal(self, request: ReadRequest) -> list[dict[str, Any]]:
        """Q6: allowed reads of consent-based facts after their consent was withdrawn
        (expected: never)."""
        self._require_officer(request)
        findings = []
        for (case_id,) in self.views.fetch("SELECT DISTINCT case_id FROM cl_consents"):
            state = self.reads.snapshot(str(case_id), catch_up=False).state
            withdrawn = [c for c in state.consents if c.withdrawn_at is not None]
            if not withdrawn:
                continue
            for fact in self.reads.fact_candidates(str(case_id)):
                if not self.covenant.is_consent_basis(fact.legal_basis):
                    continue
                covering = [
                    c
                    for c in withdrawn
                    if c.subject in fact.subjects and fact.categories <= c.categories
                ]
                if not covering:
                    continue
                cutoff = min(c.withdrawn_at for c in covering if c.withdrawn_at is not None)
                for entry in self.log.entries(
                    case_id=str(case_id), decision="allowed", limit=10_000_000
                ):
                    if _no_disclosure(entry):
                        continue
                    if fact.fact_id in entry.fact_ids and entry.time >= cutoff.isoformat():
                        findings.append(
                            {
                                "seq": entry.seq,
                                "fact_id": fact.fact_id,
                                "org": entry.org,
                                "time": entry.time,
                            }
                        )
        return findings


def _no_disclosure(entry: Any) -> bool:
    """The privacy officer's metadata reads show no content; an access report shows the
    person their own data (AVG art. 15). Neither is a disclosure to another reader."""
    return bool(entry.reason in METADATA_ONLY_REASONS or entry.outcome == "access_report")
