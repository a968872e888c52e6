"""The app factory. Nothing happens at import time: ``create_app(settings)`` builds the app,
its lifespan opens the stores (``build_services``) and starts the projection runner.

Run with ``uvicorn --factory api.app:create_app_from_env`` (or ``caseledger serve``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api._auth import TokenVerifier, key_source
from api._guard import Guard
from api._handlers import install_handlers
from api._hygiene import HygieneMiddleware
from api._logging import RequestLogMiddleware, configure_logging
from api._openapi import build_openapi
from api._writes import FactCommitter
from api.bootstrap import Clock, build_services, utcnow
from api.routes import build_routers
from api.settings import Settings
from policies import load_covenant
from projections._privacy import PrivacyOffice

DESCRIPTION = """
Partner-owned, sealed case facts for a care-and-safety partnership (Zorg- en Veiligheidshuis).

* **Authentication**: `Authorization: Bearer <JWT>` with `sub`, `org` and `roles`; partner and
  roles must be declared by the covenant.
* **Purpose**: every `/v1` request declares `X-Purpose` (a covenant purpose). Optional:
  `X-On-Behalf-Of`, and `X-Emergency-Reason` to break the glass (logged and reviewed).
* **Writes** accept `Idempotency-Key` (a retry stores one event) and `If-Match` (the case
  version as ETag; a stale one answers 409 with `current_version`).
* **Errors** are RFC 9457 problem details. A case you may not see is indistinguishable from
  one that does not exist (404).
"""


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the API for these settings. Refuses (raises) without a valid covenant or without
    a way to verify tokens."""
    covenant = load_covenant(settings.covenant_file)
    keys = key_source(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, clock=clock or utcnow)
        committer: FactCommitter | None = None
        try:
            services.runner.catch_up()
            services.runner.start()
            app.state.services = services
            app.state.verifier = TokenVerifier(keys, services.covenant, settings)
            app.state.guard = Guard(services)
            if settings.group_commit:
                committer = FactCommitter(services.ledger)
            app.state.committer = committer
            app.state.office = PrivacyOffice(services.reads)
            yield
        finally:
            if committer is not None:
                committer.close()  # commits what is queued before the stores close
            services.close()

    app = FastAPI(
        title="Caseledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        # No request data may reach tracing or metrics exporters (DESIGN principle 2).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    for router in build_routers():
        app.include_router(router)
    install_handlers(app)
    app.add_middleware(
        HygieneMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    app.add_middleware(RequestLogMiddleware)  # added last: the outermost layer

    def openapi() -> dict[str, Any]:
        return build_openapi(app, covenant)

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``CASELEDGER_*`` variables, JSON request logs."""
    configure_logging()
    return create_app(Settings.from_environ(os.environ))
