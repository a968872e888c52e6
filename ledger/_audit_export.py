"""Access-log exports in the shapes supervisors expect.

* Logboek Dataverwerkingen (draft Dutch standard, our best reading): one record per processing
  and data subject, span-like, with the purpose as ``dpl.core.processing_activity_id`` and a
  pseudonymised subject id.
* NEN 7513 (access logging in care): event, date/time, client, user, responsible user
  (on whose behalf), organisation, role, data accessed, authorisation basis, emergency access.

Both carry ids, codes and pseudonyms only: the log never holds personal data in the clear.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from ledger._audit_entries import StoredEntry

LDV_COLUMNS = (
    "trace_id",
    "span_id",
    "name",
    "start_time",
    "end_time",
    "status_code",
    "dpl.core.processing_activity_id",
    "dpl.core.data_subject_id",
    "dpl.core.data_subject_id_type",
    "dpl.core.user_id",
    "dpl.core.on_behalf_of",
    "caseledger.organisation",
    "caseledger.role",
    "caseledger.case_id",
    "caseledger.fact_ids",
    "caseledger.decision",
    "caseledger.reason",
    "caseledger.emergency",
    "caseledger.emergency_reason",
    "caseledger.seq",
    "caseledger.hash",
    "caseledger.covenant",
)
NEN7513_COLUMNS = (
    "event",
    "date_time",
    "client",
    "user",
    "responsible_user",
    "organisation",
    "role",
    "data_accessed",
    "authorisation_basis",
    "emergency_access",
    "emergency_reason",
    "outcome",
    "purpose",
    "covenant",
)


def _event_name(entry: StoredEntry) -> str:
    if entry.decision == "reviewed":
        return "review_emergency_access"
    if entry.outcome == "access_report":
        return "compile_access_report"
    return "read_case_data"


def to_ldv(entry: StoredEntry) -> dict[str, Any]:
    """One Logboek Dataverwerkingen record."""
    return {
        "trace_id": entry.trace_id or entry.entry_id,
        "span_id": entry.entry_id,
        "name": _event_name(entry),
        "start_time": entry.time,
        "end_time": entry.time,
        "status_code": "OK" if entry.decision != "denied" else "ERROR",
        "dpl.core.processing_activity_id": entry.purpose,
        "dpl.core.data_subject_id": entry.subject,
        "dpl.core.data_subject_id_type": "caseledger-hmac-pseudonym" if entry.subject else "",
        "dpl.core.user_id": entry.actor,
        "dpl.core.on_behalf_of": entry.on_behalf_of,
        "caseledger.organisation": entry.org,
        "caseledger.role": entry.role,
        "caseledger.case_id": entry.case_id,
        "caseledger.fact_ids": ",".join(entry.fact_ids),
        "caseledger.decision": entry.decision,
        "caseledger.reason": entry.reason,
        "caseledger.emergency": entry.emergency,
        "caseledger.emergency_reason": entry.note if entry.emergency else "",
        "caseledger.seq": entry.seq,
        "caseledger.hash": entry.hash,
        "caseledger.covenant": entry.covenant,
    }


def to_nen7513(entry: StoredEntry) -> dict[str, Any]:
    """One NEN 7513 record."""
    return {
        "event": _event_name(entry) + ("_denied" if entry.decision == "denied" else ""),
        "date_time": entry.time,
        "client": entry.subject,
        "user": entry.actor,
        "responsible_user": entry.on_behalf_of or entry.actor,
        "organisation": entry.org,
        "role": entry.role,
        "data_accessed": ",".join(entry.fact_ids) or f"case:{entry.case_id}",
        "authorisation_basis": entry.reason,
        "emergency_access": entry.emergency,
        "emergency_reason": entry.note if entry.emergency else "",
        "outcome": entry.decision,
        "purpose": entry.purpose,
        "covenant": entry.covenant,
    }


def export_jsonl(entries: Iterable[StoredEntry], shape: str = "ldv") -> str:
    convert = to_ldv if shape == "ldv" else to_nen7513
    return "".join(json.dumps(convert(e), sort_keys=True) + "\n" for e in entries)


def export_csv(entries: Iterable[StoredEntry], shape: str = "ldv") -> str:
    convert, columns = (to_ldv, LDV_COLUMNS) if shape == "ldv" else (to_nen7513, NEN7513_COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({k: _cell(v) for k, v in convert(entry).items()})
    return out.getvalue()


def _cell(value: Any) -> str:
    text = str(value)
    # CSV injection guard: a cell must never start a spreadsheet formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
