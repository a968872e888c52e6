"""Erasure plans: what an erasure destroyed, kept until every record of it has committed.

An erasure destroys keys first and records that on its cases afterwards (``Case.Erased``);
keys cannot be destroyed and events appended in one transaction, they live in different
stores. The plan closes that gap: it is written in the key-store transaction that destroys
the keys, so it exists exactly when they are gone, and it holds what the records need and
can no longer be read once the keys are gone (the subject's facts, the destroyed key ids,
who asked, under which idempotency key). A retry of the erasure, another erasure of the same
target or the service's start (``ErasureCommands.resume_erasures``) finds the plan and
finishes it: the epoch if it did not run, the record on each case that lacks one, the
idempotency record. Only then is the plan dropped.

Plans carry ids, codes and counts only, like the records they stand in for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger._command_data import ErasureReport, RequestContext
from ledger._erasure import Destroyed, EpochReport, PlanWriter
from ledger._keystore import KeyStore, KeyStoreTransaction
from policies import PartnerId, Principal, UserId


def plan_key(scope: str, case_id: str, target_id: str) -> str:
    """The one pending plan an erasure target can have (``owner`` targets have no case)."""
    return f"{scope}/{case_id}/{target_id}"


@dataclass(slots=True)
class ErasurePlan:
    """One erasure from key destruction to its last record."""

    erasure_id: str
    scope: str
    target_id: str
    ground: str
    erased_at: datetime
    actor: str
    partner: str
    on_behalf_of: str | None
    purpose: str
    case_ids: list[str]
    fact_ids: dict[str, list[str]]
    purposes: dict[str, str]
    idempotency_key: str | None = None
    request: dict[str, str] = field(default_factory=dict)
    destroyed: Destroyed = field(default_factory=Destroyed)
    epoch: EpochReport | None = None

    @property
    def key(self) -> str:
        case_id = self.case_ids[0] if self.scope != "owner" else ""
        return plan_key(self.scope, case_id, self.target_id)

    def context(self) -> RequestContext:
        """Who asked for the erasure, for the records a resumed plan appends."""
        principal = Principal(
            user=UserId(self.actor),
            partner=PartnerId(self.partner),
            on_behalf_of=None if self.on_behalf_of is None else UserId(self.on_behalf_of),
        )
        return RequestContext(principal, self.purpose)

    def report(self) -> ErasureReport:
        """The erasure's report (the epoch must have run)."""
        if self.epoch is None:
            raise ValueError("the erasure's epoch has not run")
        return ErasureReport(
            erasure_id=self.erasure_id,
            scope=self.scope,
            target_id=self.target_id,
            ground=self.ground,
            erased_at=self.erased_at,
            scope_key_ids=tuple(self.destroyed.scope_key_ids),
            fact_key_ids=tuple(self.destroyed.fact_key_ids),
            fact_ids=tuple(f for c in self.case_ids for f in self.fact_ids.get(c, [])),
            epoch=self.epoch,
        )

    def to_json(self) -> str:
        d = self.destroyed
        return json.dumps(
            {
                "erasure_id": self.erasure_id,
                "scope": self.scope,
                "target_id": self.target_id,
                "ground": self.ground,
                "erased_at": self.erased_at.isoformat(),
                "actor": self.actor,
                "partner": self.partner,
                "on_behalf_of": self.on_behalf_of,
                "purpose": self.purpose,
                "case_ids": self.case_ids,
                "fact_ids": self.fact_ids,
                "purposes": self.purposes,
                "idempotency_key": self.idempotency_key,
                "request": self.request,
                "destroyed": {
                    "scope_key_ids": d.scope_key_ids,
                    "fact_key_ids": d.fact_key_ids,
                    "owners": sorted(d.owners),
                    "rekey": sorted([o, c] for o, c in d.rekey),
                    "retired_owner": d.retired_owner,
                    "erased_case": d.erased_case,
                    "kek_versions_destroyed": d.kek_versions_destroyed,
                },
                "epoch": None if self.epoch is None else self.epoch.as_dict(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ErasurePlan:
        data: dict[str, Any] = json.loads(text)
        d = data["destroyed"]
        destroyed = Destroyed(
            scope_key_ids=[str(k) for k in d["scope_key_ids"]],
            fact_key_ids=[str(k) for k in d["fact_key_ids"]],
            owners={str(o) for o in d["owners"]},
            rekey={(str(o), str(c)) for o, c in d["rekey"]},
            retired_owner=d["retired_owner"],
            erased_case=d["erased_case"],
            kek_versions_destroyed={
                str(o): [int(v) for v in vs] for o, vs in d["kek_versions_destroyed"].items()
            },
        )
        epoch = data["epoch"]
        return cls(
            erasure_id=str(data["erasure_id"]),
            scope=str(data["scope"]),
            target_id=str(data["target_id"]),
            ground=str(data["ground"]),
            erased_at=datetime.fromisoformat(str(data["erased_at"])),
            actor=str(data["actor"]),
            partner=str(data["partner"]),
            on_behalf_of=data["on_behalf_of"],
            purpose=str(data["purpose"]),
            case_ids=[str(c) for c in data["case_ids"]],
            fact_ids={str(c): [str(f) for f in fs] for c, fs in data["fact_ids"].items()},
            purposes={str(c): str(p) for c, p in data["purposes"].items()},
            idempotency_key=data["idempotency_key"],
            request={str(k): str(v) for k, v in data["request"].items()},
            destroyed=destroyed,
            epoch=None if epoch is None else EpochReport.from_dict(epoch),
        )


class ErasurePlans:
    """The pending plans, in the key store (where the keys they describe were)."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store

    def writer(self, plan: ErasurePlan) -> PlanWriter:
        """Keeps ``plan`` with what the destroy step destroyed, in that step's transaction.

        A plan already pending for the target (a racing erasure of it) is left as it is.
        """

        def write(tx: KeyStoreTransaction, destroyed: Destroyed) -> None:
            plan.destroyed = destroyed
            tx.execute(
                "INSERT INTO erasure_plans (plan_key, erasure_id, plan) VALUES (?, ?, ?)"
                " ON CONFLICT (plan_key) DO NOTHING",
                (plan.key, plan.erasure_id, plan.to_json()),
            )

        return write

    def pending(self, key: str) -> ErasurePlan | None:
        with self._store.transaction(write=False) as tx:
            rows = tx.execute("SELECT plan FROM erasure_plans WHERE plan_key = ?", (key,))
        return ErasurePlan.from_json(str(rows[0][0])) if rows else None

    def all_pending(self) -> list[ErasurePlan]:
        with self._store.transaction(write=False) as tx:
            rows = tx.execute("SELECT plan FROM erasure_plans ORDER BY plan_key")
        return [ErasurePlan.from_json(str(r[0])) for r in rows]

    def update(self, plan: ErasurePlan) -> None:
        """Keep what the plan learnt since (its epoch)."""
        with self._store.transaction(write=True) as tx:
            tx.execute(
                "UPDATE erasure_plans SET plan = ? WHERE plan_key = ? AND erasure_id = ?",
                (plan.to_json(), plan.key, plan.erasure_id),
            )

    def done(self, plan: ErasurePlan) -> None:
        """Every record of the erasure has committed: drop its plan."""
        with self._store.transaction(write=True) as tx:
            tx.execute(
                "DELETE FROM erasure_plans WHERE plan_key = ? AND erasure_id = ?",
                (plan.key, plan.erasure_id),
            )
