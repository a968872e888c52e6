"""Facts: record (owned by the caller's partner), correct and retract (the owner only)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api._guard import Permit, new_fact
from api._responses import WriteAck
from api._schemas import CorrectionCreate, FactCreate, RetractionCreate
from api._writes import Write
from api.routes._common import CasePath, FactPath, add_write
from ledger import InvariantViolationError, NewFact, WriteResult
from policies import WriteAction

A = WriteAction


async def record_fact(case: CasePath, body: FactCreate, write: Write) -> WriteAck:
    """Record a fact. The owner is the caller's partner, never a body field; kind, categories,
    legal basis and sharing must fit the covenant (health and criminal facts need named
    partners). The body is sealed under the owner's keys."""
    sharing = body.sharing
    caller, guard, services = write.caller, write.guard, write.services

    def authorise(*, fresh: bool = False) -> Permit:
        meta = new_fact(
            caller,
            case,
            kind=body.kind,
            subjects=body.subjects,
            categories=body.categories,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            level=sharing.level,
            partners=sharing.partners,
            now=services.clock(),
        )
        return guard.require(caller, A.record_fact, case, fact=meta, fresh=fresh)

    def refused_after_a_lagging_grant() -> None:
        """The aggregate refused a grant that may have been made on a lagging view (a case
        closed a moment ago): answer with the refusal a decision on fresh state gives (a
        hidden case stays hidden); if that still grants, the aggregate's refusal stands."""
        authorise(fresh=True)

    fact = NewFact(
        body.kind,
        tuple(body.subjects),
        tuple(body.categories),
        body.purpose,
        body.legal_basis,
        sharing.level,
        tuple(sharing.partners),
        body.body,
    )
    pre = write.preconditions
    if write.committer is not None and pre.expected_version is None and not pre.idempotency_key:
        # The common case: no precondition, so the fact joins the group commit and the
        # request awaits it without holding a worker thread.
        group = write.committer

        async def commit() -> WriteResult:
            if guard.decides_from_memory(A.record_fact, case):
                authorise()  # policy only
            else:
                await run_in_threadpool(authorise)  # reads the projections
            try:
                return await group.record(caller.context, case, fact)
            except InvariantViolationError:
                await run_in_threadpool(refused_after_a_lagging_grant)
                raise

        result = await write.perform(commit)
        return write.ack(result, fact_id=result.created_id)

    def run(_: Permit) -> WriteAck:
        try:
            result = services.ledger.record_facts(caller.context, case, [fact], **write.conditions)
        except InvariantViolationError:
            refused_after_a_lagging_grant()
            raise
        return write.ack(result, fact_id=result.created_id)

    return await write.run(authorise, run)


async def correct_fact(
    case: CasePath, fact: FactPath, body: CorrectionCreate, write: Write
) -> WriteAck:
    """Correct your own fact with a new body (the old one stays sealed in the history)."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.correct_fact(
            write.context, case, fact, body=body.body, **write.conditions
        )
        return write.ack(result, fact_id=fact)

    return await write.run(write.require(A.correct_fact, case, fact_id=fact), run)


async def retract_fact(
    case: CasePath, fact: FactPath, write: Write, body: RetractionCreate | None = None
) -> WriteAck:
    """Retract your own fact: its content keys are destroyed (crypto-shredding)."""

    def run(_: Permit) -> WriteAck:
        reason = body.reason if body else ""
        result = write.ledger.retract_fact(
            write.context, case, fact, reason=reason, **write.conditions
        )
        return write.ack(result, fact_id=fact)

    return await write.run(write.require(A.retract_fact, case, fact_id=fact), run)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}/facts", tags=["facts"])
    add_write(router, "", record_fact, status_code=201)
    add_write(router, "/{fact}/corrections", correct_fact)
    add_write(router, "/{fact}/retraction", retract_fact)
    return router
