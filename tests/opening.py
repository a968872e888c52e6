"""Opening sealed bodies in tests that check the ledger below the read policy."""

from __future__ import annotations

from collections.abc import Sequence

from ledger import Case, CaseLedger, OpenedBody


def open_as_recorded(ledger: CaseLedger, case: Case, fact_ids: Sequence[str]) -> list[OpenedBody]:
    """Open each fact for the purpose it was recorded for, in the given order.

    ``CaseLedger.open_bodies`` takes the purpose a policy decision admitted; tests of sealing,
    erasure and durability read as the owner would, for the fact's own purpose.
    """
    return [
        opened
        for fact_id in fact_ids
        for opened in ledger.open_bodies(case, [fact_id], purpose=case.get_fact(fact_id).purpose)
    ]
