"""Erasure certificates: signed proof of what an erasure destroyed (ids and counts only).

A certificate names the destroyed keys and the facts they made unreadable, who asked and
(for four-eyes erasures) who confirmed, and the residual risk: key-store backups taken
before the erasure can still open the data until they expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ledger import CaseNotFoundError, ErasureRequestNotFoundError, sign_document
from projections._privacy_desk import PrivacyDesk, iso


class ErasureCertificates(PrivacyDesk):
    """The signed certificate of an erasure, with its four-eyes record."""

    def certificate(self, erasure_id: str) -> dict[str, Any]:
        """The signed erasure certificate (ids and counts only, no personal data)."""
        self.reads.runner.catch_up()
        rows = self.views.fetch(
            "SELECT case_id FROM cl_erasures WHERE erasure_id = ? ORDER BY case_id", (erasure_id,)
        )
        if not rows:
            raise CaseNotFoundError("erasure not found")
        case_ids = [str(r[0]) for r in rows]
        record = next(
            e for e in self.ledger.get_case(case_ids[0]).erasures if e["erasure_id"] == erasure_id
        )
        erased_at = datetime.fromisoformat(record["erased_at"])
        fact_ids = sorted(
            {
                f
                for case_id in case_ids
                for e in self.ledger.get_case(case_id).erasures
                if e["erasure_id"] == erasure_id
                for f in e["fact_ids"]
            }
        )
        document = {
            "certificate_version": 1,
            "erasure_id": erasure_id,
            "scope": record["scope"],
            "target_id": record["target_id"],
            "ground": record["ground"],
            "requested_by": record["requested_by"],
            "on_behalf_of": record["on_behalf_of"],
            **self._four_eyes(erasure_id),
            "erased_at": record["erased_at"],
            "cases": case_ids,
            "destroyed": {
                "scope_key_ids": record["scope_key_ids"],
                "fact_key_ids": record["fact_key_ids"],
                "scope_keys": len(record["scope_key_ids"]),
                "fact_keys": len(record["fact_key_ids"]),
            },
            "unreadable_fact_ids": fact_ids,
            "projections_updated": {"position": self.reads.runner.position, "applied": True},
            "epoch": record["epoch"],
            "residual": {
                "statement": (
                    "Key-store and keyring backups taken before erased_at can still open the "
                    "erased data until they expire; event-store backups of any age cannot."
                ),
                "key_store_backups_before": record["erased_at"],
                "expire_by": (erased_at + timedelta(days=self.backup_days)).isoformat(),
            },
        }
        return sign_document(self.log.keys, document)

    def _four_eyes(self, erasure_id: str) -> dict[str, Any]:
        """For an erasure carried out on confirmation: who asked, who confirmed, when."""
        try:
            request = self.ledger.get_erasure_request(erasure_id)
        except ErasureRequestNotFoundError:
            return {}
        return {
            "requested_by": request.requested_by,
            "requested_at": iso(request.requested_at),
            "confirmed_by": request.confirmed_by,
            "confirmed_at": iso(request.confirmed_at),
        }
