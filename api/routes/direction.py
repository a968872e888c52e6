"""Who directs a case: ``PUT /v1/cases/{case}/casusregisseur`` and ``.../procesregisseur``.

A procesregisseur of the partnership office names one user (and its partner) per role; naming
again replaces the earlier one at once, so its ``regie`` reads end with the request
(``policies.decide_direction``, ``policies.admits_to_regie``).
"""

from __future__ import annotations

from fastapi import APIRouter

from api._guard import Permit
from api._problems import DIRECTOR_PARTNER, DIRECTOR_ROLE, VALIDATION
from api._responses import WriteAck
from api._schemas import DirectorCreate
from api._writes import Write
from api.routes._common import CASE_WRITE_PROBLEMS, CasePath, add_write, require_declared
from policies import Role


async def _name(role: str, case: str, body: DirectorCreate, write: Write) -> WriteAck:
    require_declared(write.services.covenant, partner__org=body.org)

    def run(_: Permit) -> WriteAck:
        result = write.ledger.name_director(
            write.context, case, role=role, user=body.user, org=body.org, **write.conditions
        )
        return write.ack(result, user=body.user, org=body.org)

    return await write.run(
        lambda: write.guard.require_direction(write.caller, case, role, body.org), run
    )


async def name_casusregisseur(case: CasePath, body: DirectorCreate, write: Write) -> WriteAck:
    """Name the case's casusregisseur: a user of a participating partner the covenant lets
    hold the role (procesregisseur of the office). The one named before loses its ``regie``
    reads at once; its partner keeps taking part."""
    return await _name(Role.casusregisseur, case, body, write)


async def name_procesregisseur(case: CasePath, body: DirectorCreate, write: Write) -> WriteAck:
    """Name the case's procesregisseur: a user of the partnership office (procesregisseur of
    the office)."""
    return await _name(Role.procesregisseur, case, body, write)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}", tags=["cases"])
    problems = (*CASE_WRITE_PROBLEMS, VALIDATION, DIRECTOR_ROLE, DIRECTOR_PARTNER)
    for role, endpoint in (
        (Role.casusregisseur, name_casusregisseur),
        (Role.procesregisseur, name_procesregisseur),
    ):
        add_write(router, f"/{role}", endpoint, method="PUT", problems=problems)
    return router
