"""The shared starting point of a case (gedeeld vertrekpunt): each partner's current picture
and the current shared goal, as the caller may see them, logged before they are revealed."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api._deps import CurrentCaller, ServicesDep
from api._problems import FORBIDDEN, from_denial
from api._responses import StartingPointPublic
from api.routes._common import READ_PROBLEMS, CasePath, problem_responses
from api.routes.cases import fact_public
from projections import ReadRefusedError


def get_starting_point(
    case: CasePath, caller: CurrentCaller, services: ServicesDep, response: Response
) -> StartingPointPublic:
    """The latest picture of each partner and the latest shared goal the caller may see (the
    clerk sees the case, never its facts: 403 ``role_excludes_facts``)."""
    try:
        view = services.reads.starting_point(caller.read_request, case)
    except ReadRefusedError as refused:
        raise from_denial(refused.decision, visible=True) from None
    response.headers["ETag"] = f'"{view.version}"'
    return StartingPointPublic(
        case_id=view.case_id,
        version=view.version,
        pictures=[fact_public(f) for f in view.pictures],
        goal=fact_public(view.goal) if view.goal is not None else None,
        withheld=view.withheld,
        withheld_by_reason=view.withheld_by_reason,
    )


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/cases/{case}/starting-point", tags=["starting point"])
    router.add_api_route(
        "", get_starting_point, methods=["GET"], response_model=StartingPointPublic,
        responses=problem_responses(*READ_PROBLEMS, FORBIDDEN),
    )  # fmt: skip
    return router
