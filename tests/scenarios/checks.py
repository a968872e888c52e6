"""Assertions the scenario tests share: what a role sees, refusals and their log entries,
who read a fact according to the access log, and plaintext searches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.scenarios.world import PO, CaseRecord, Http, Who, user

METADATA = "privacy_officer_metadata"
#: Allowed reads that show no content to their reader: the privacy officer's metadata view
#: and an owner seeing that its consent-withdrawn fact awaits erasure.
NOT_DISCLOSED = frozenset({METADATA, "allowed_owner_metadata"})


@dataclass(frozen=True)
class Look:
    """What one role got when it opened a case."""

    seen: dict[str, bool]  # fact label -> body present
    withheld: int
    actions: list[tuple[str, bool]]  # (assignee, description shown)
    status: str
    phase: int
    text: str  # the raw response, to search for canaries


def look(http: Http, who: Who, case: CaseRecord, **headers: str) -> Look:
    response = http.view(who, case, **headers)
    assert response.status_code == 200, (who, response.text)
    view = response.json()
    return Look(
        seen={case.label_of(f["fact_id"]): "body" in f for f in view["facts"]},
        withheld=int(view["withheld"]),
        actions=sorted((a["assignee"], a.get("what") is not None) for a in view["actions"]),
        status=str(view["status"]),
        phase=int(view["phase"]),
        text=response.text,
    )


def content(*labels: str) -> dict[str, bool]:
    """The expected ``Look.seen`` of a reader who gets these facts with their bodies."""
    return dict.fromkeys(labels, True)


def metadata(*labels: str) -> dict[str, bool]:
    """The expected ``Look.seen`` of the privacy officer: these facts, no bodies."""
    return dict.fromkeys(labels, False)


def refused(
    http: Http, who: Who, case: CaseRecord, reason: str | None, *, purpose: str | None = None
) -> str:
    """``who`` gets a 404 like an unknown case, and exactly this attempt is logged as denied
    (with ``reason``, unless None); returns the logged reason."""
    before = http.log_position()
    response = http.call(who, "GET", case.path(), purpose=purpose or case.purpose)
    assert response.status_code == 404, (who, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert case.case_id not in response.text
    logged = http.audit(case=case.case_id, org=who[0], after=before)
    assert [(e["actor"], e["decision"]) for e in logged] == [(user(who), "denied")]
    if reason is not None:
        assert logged[0]["reason"] == reason
    return str(logged[0]["reason"])


def content_readers(entries: Iterable[dict[str, Any]], fact_id: str) -> set[str]:
    """Partners the log says were shown the fact's content (metadata reads excluded)."""
    return {
        e["org"]
        for e in entries
        if e["decision"] == "allowed"
        and e["reason"] not in NOT_DISCLOSED
        and fact_id in e["fact_ids"]
    }


def readers_of(http: Http, case: CaseRecord, label: str) -> set[str]:
    return content_readers(http.audit(case=case.case_id), case.facts[label])


def found(blob: str | bytes, canaries: Iterable[str]) -> list[str]:
    """The canaries that occur in ``blob``."""
    data = blob.encode() if isinstance(blob, str) else blob
    return [c for c in canaries if c.encode() in data]


def data_dir_bytes(data_dir: Path) -> bytes:
    """Every file under the data dir (databases, WAL, key store, keyring), concatenated."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


def privacy_officer_view(http: Http, case: CaseRecord) -> dict[str, Any]:
    view: dict[str, Any] = http.get(PO, case.path())
    return view
