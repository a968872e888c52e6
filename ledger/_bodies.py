"""Fact bodies: their JSON encoding, the data they are sealed with, and opening them.

A body is sealed with associated data naming its case, fact and the case version it was
sealed at, so a sealed body moved to another fact or version does not open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ledger._case import Case
from ledger._case_state import FactState
from ledger._command_data import NewFact, OpenedBody
from ledger._errors import InvalidCommandError
from ledger._keys import KeyManager

PreparedFact = tuple[str, NewFact, bytes]
"""(new fact id, validated fact, encoded body), made before the command runs."""


def body_context(case_id: str, fact_id: str, case_version: int) -> bytes:
    """Associated data of a fact body: its case, fact and the case version it was sealed at."""
    return f"body|case={case_id}|fact={fact_id}|version={case_version}".encode()


def encode_body(body: Any) -> bytes:
    """Canonical JSON of a body (sorted keys, UTF-8), or InvalidCommandError."""
    try:
        return json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError):
        raise InvalidCommandError("body must be JSON", code="fact_body_not_json") from None


def fact_arguments(prepared: Sequence[PreparedFact]) -> list[list[Any]]:
    """What identifies prepared facts in an idempotency fingerprint (not their new ids)."""
    return [
        [
            f.kind,
            f.subjects,
            f.categories,
            f.purpose,
            f.legal_basis,
            f.sharing_level,
            f.sharing_partners,
            plaintext.decode(),
        ]
        for _, f, plaintext in prepared
    ]


def open_current_bodies(
    keys: KeyManager, case: Case, facts: Sequence[FactState]
) -> list[OpenedBody]:
    """Open the current body of each fact (policy was decided by the caller); an erased
    fact, or one whose keys are gone, opens as None."""
    items = [
        (f.current_body, body_context(case.case_id, f.fact_id, f.current_version)) for f in facts
    ]
    opened = keys.open_bodies(items) if items else []
    return [
        OpenedBody(f.fact_id, None if raw is None or f.erased else json.loads(raw))
        for f, raw in zip(facts, opened, strict=True)
    ]
