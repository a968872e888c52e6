"""What the privacy officer's desk hands out: the art. 15 access report and retention runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ReportFact:
    fact_id: str
    owner: str
    kind: str
    categories: tuple[str, ...]
    purpose: str
    recorded_at: str
    retention_until: str | None
    body: Any | None
    withheld_reason: str | None = None
    legal_basis: str = ""


@dataclass(frozen=True, slots=True)
class Recipient:
    org: str
    reads: int
    first_read: str
    last_read: str


@dataclass(frozen=True, slots=True)
class AccessReport:
    subject_id: str
    case_id: str
    generated_at: str
    facts: tuple[ReportFact, ...]
    recipients: tuple[Recipient, ...]
    notification: dict[str, Any] | None
    erased_facts: int

    def by_owner(self) -> dict[str, list[ReportFact]]:
        grouped: dict[str, list[ReportFact]] = {}
        for fact in self.facts:
            grouped.setdefault(fact.owner, []).append(fact)
        return grouped


@dataclass(frozen=True, slots=True)
class RetentionReport:
    now: str
    dry_run: bool
    erasures: tuple[dict[str, Any], ...]
    holds: tuple[dict[str, Any], ...]
