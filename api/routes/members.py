"""Who a case is about and who works on it: subjects, participants."""

from __future__ import annotations

from fastapi import APIRouter

from api._deps import Caller
from api._guard import Permit, new_fact
from api._responses import WriteAck
from api._schemas import ParticipantCreate, SubjectCreate
from api._writes import Write
from api.routes._common import CasePath, OrgPath, add_write, require_declared
from ledger import NewFact
from policies import FactMetadata, WriteAction

A = WriteAction
IDENTITY_KIND = "observation"
IDENTITY_CATEGORY = "identity"


async def add_subject(case: CasePath, body: SubjectCreate, write: Write) -> WriteAck:
    """Add a subject with its case role. Identifying data, when given, is recorded as a fact
    (kind observation, category identity) owned by the caller's partner and sealed, under the
    given legal basis or else the case's own; exactly that fact is what gets authorised."""
    require_declared(write.services.covenant, legal_basis=body.legal_basis)
    partners = body.sharing.partners
    require_declared(write.services.covenant, partner__sharing=partners)
    caller, guard = write.caller, write.guard

    def authorise() -> Permit:
        permit = guard.require(caller, A.add_subject, case)
        if body.identity is not None:
            guard.require(
                caller, A.record_fact, case, fact=_identity_metadata(caller, body, permit)
            )
        return permit

    def run(permit: Permit) -> WriteAck:
        identity = None
        if body.identity is not None:
            meta = _identity_metadata(caller, body, permit)
            identity = NewFact(
                meta.kind,
                (),  # the new subject, once its id exists
                tuple(meta.categories),
                meta.purpose,
                meta.legal_basis,
                str(meta.sharing.level),
                tuple(sorted(meta.sharing.partners)),
                body.identity,
            )
        added = write.ledger.add_subject(
            write.context, case, case_role=body.case_role, identity=identity, **write.conditions
        )
        subject_id, _, fact_id = (added.created_id or "").partition(",")
        if identity is None:
            return write.ack(added, subject_id=subject_id)
        return write.ack(added, subject_id=subject_id, identity_fact_id=fact_id)

    return await write.run(authorise, run)


def _identity_metadata(caller: Caller, body: SubjectCreate, permit: Permit) -> FactMetadata:
    """The identity fact as it will be recorded: its purpose and basis are the case's unless
    the caller names a basis."""
    assert permit.case is not None
    return new_fact(
        caller,
        permit.case.case_id,
        kind=IDENTITY_KIND,
        subjects=[],
        categories=[IDENTITY_CATEGORY],
        purpose=permit.case.purpose,
        legal_basis=body.legal_basis or permit.case.legal_basis,
        level=body.sharing.level,
        partners=body.sharing.partners,
        now=permit.now,
    )


async def invite_participant(case: CasePath, body: ParticipantCreate, write: Write) -> WriteAck:
    """Invite a partner to the case (procesregisseur)."""
    require_declared(write.services.covenant, partner__org=body.org)

    def run(_: Permit) -> WriteAck:
        result = write.ledger.invite_participant(
            write.context, case, org=body.org, **write.conditions
        )
        return write.ack(result, org=body.org)

    return await write.run(write.require(A.invite_participant, case), run)


async def remove_participant(case: CasePath, org: OrgPath, write: Write) -> WriteAck:
    """Remove a partner from the case (procesregisseur); its own facts stay its own."""

    def run(_: Permit) -> WriteAck:
        result = write.ledger.remove_participant(write.context, case, org=org, **write.conditions)
        return write.ack(result, org=org)

    return await write.run(write.require(A.remove_participant, case), run)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}", tags=["cases"])
    add_write(router, "/subjects", add_subject, status_code=201)
    add_write(router, "/participants", invite_participant, status_code=201)
    add_write(router, "/participants/{org}", remove_participant, method="DELETE")
    return router
