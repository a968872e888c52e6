"""Who a case is about and who works on it: subjects, participants."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api._deps import Caller, CurrentCaller, ServicesDep, WritePreconditions
from api._guard import Permit, new_fact
from api._responses import WriteAck
from api._schemas import ParticipantCreate, SubjectCreate
from api._writes import ack, perform
from api.routes._common import CasePath, GuardDep, OrgPath, add_write, require_declared
from ledger import NewFact
from policies import FactMetadata, WriteAction

A = WriteAction
IDENTITY_KIND = "observation"
IDENTITY_CATEGORY = "identity"


def add_subject(
    case: CasePath,
    body: SubjectCreate,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    pre: WritePreconditions,
    response: Response,
) -> WriteAck:
    """Add a subject with its case role. Identifying data, when given, is recorded as a fact
    (kind observation, category identity) owned by the caller's partner and sealed, under the
    given legal basis or else the case's own; exactly that fact is what gets authorised."""
    require_declared(services.covenant, legal_basis=body.legal_basis)
    partners = body.sharing.partners
    require_declared(services.covenant, partner__sharing=partners)

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
        added = services.ledger.add_subject(
            caller.context,
            case,
            case_role=body.case_role,
            identity=identity,
            expected_version=pre.expected_version,
            idempotency_key=pre.idempotency_key,
        )
        subject_id, _, fact_id = (added.created_id or "").partition(",")
        if identity is None:
            return ack(response, added, subject_id=subject_id)
        return ack(response, added, subject_id=subject_id, identity_fact_id=fact_id)

    return perform(pre, authorise, run)


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


def invite_participant(
    case: CasePath,
    body: ParticipantCreate,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    pre: WritePreconditions,
    response: Response,
) -> WriteAck:
    """Invite a partner to the case (procesregisseur)."""
    require_declared(services.covenant, partner__org=body.org)

    def run(_: Permit) -> WriteAck:
        result = services.ledger.invite_participant(
            caller.context,
            case,
            org=body.org,
            expected_version=pre.expected_version,
            idempotency_key=pre.idempotency_key,
        )
        return ack(response, result, org=body.org)

    return perform(pre, lambda: guard.require(caller, A.invite_participant, case), run)


def remove_participant(
    case: CasePath,
    org: OrgPath,
    caller: CurrentCaller,
    guard: GuardDep,
    services: ServicesDep,
    pre: WritePreconditions,
    response: Response,
) -> WriteAck:
    """Remove a partner from the case (procesregisseur); its own facts stay its own."""

    def run(_: Permit) -> WriteAck:
        result = services.ledger.remove_participant(
            caller.context,
            case,
            org=org,
            expected_version=pre.expected_version,
            idempotency_key=pre.idempotency_key,
        )
        return ack(response, result, org=org)

    return perform(pre, lambda: guard.require(caller, A.remove_participant, case), run)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}", tags=["cases"])
    add_write(router, "/subjects", add_subject, status_code=201)
    add_write(router, "/participants", invite_participant, status_code=201)
    add_write(router, "/participants/{org}", remove_participant, method="DELETE")
    return router
