"""The app factory. Nothing happens at import time: ``create_app(settings)`` builds the app,
its lifespan opens the stores (``build_services``) and starts the projection runner.

Run with ``uvicorn --factory api.app:create_app_from_env`` (or ``caseledger serve``).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI

from api._auth import TokenVerifier, key_source
from api._covenant_reload import install_hangup_reload
from api._guard import Guard
from api._handlers import install_handlers
from api._hygiene import HygieneMiddleware
from api._logging import LOGGER_NAME, RequestLogMiddleware, configure_logging
from api._openapi import build_openapi
from api._writes import FactCommitter
from api.bootstrap import Clock, build_services, utcnow
from api.routes import build_routers
from api.settings import Settings
from policies import load_covenant
from projections import PrivacyOffice

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


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    tune_gc: bool = False,
    reload_on_hangup: bool = False,
) -> FastAPI:
    """Build the API for these settings. Refuses (raises) without a valid covenant or without
    a way to verify tokens.

    ``tune_gc`` is for a process that serves this one app (``caseledger serve``): while the
    app runs, the garbage collector skips the start-up heap and collects less often (see
    :func:`_serving_gc`). ``reload_on_hangup``: SIGHUP reloads the covenant (the process's
    main thread runs the event loop, as under ``caseledger serve``).
    """
    covenant = load_covenant(settings.covenant_file)
    keys = key_source(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, clock=clock or utcnow)
        committer: FactCommitter | None = None
        try:
            # An erasure whose keys are gone but whose records did not all commit (its
            # process failed in between) is finished before anything is served.
            resumed = services.ledger.resume_erasures()
            if resumed:
                logging.getLogger(LOGGER_NAME).warning(
                    "erasures_resumed", extra={"fields": {"count": len(resumed)}}
                )
            services.runner.catch_up()
            services.runner.start()
            app.state.services = services
            app.state.verifier = TokenVerifier(keys, services.covenant, settings)
            app.state.guard = Guard(services)
            if settings.group_commit:
                committer = FactCommitter(services.ledger)
            app.state.committer = committer
            app.state.office = PrivacyOffice(services.reads)
            uninstall = install_hangup_reload(app) if reload_on_hangup else None
            try:
                with _serving_gc(enabled=tune_gc):
                    yield
            finally:
                if uninstall is not None:
                    uninstall()
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
        services = getattr(app.state, "services", None)
        return build_openapi(app, covenant if services is None else services.covenant)

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``CASELEDGER_*`` variables, JSON request logs."""
    configure_logging()
    return create_app(Settings.from_environ(os.environ), tune_gc=True, reload_on_hangup=True)


#: Collector thresholds while serving (CPython's default is 700, 10, 10). A full collection is
#: considered only after threshold0 x threshold1 x threshold2 net container allocations; the
#: default, 70,000, is a fraction of a second of POST facts under load, and each full
#: collection walks every cached case's facts. Young objects of a request mostly die by
#: reference counting, so rarer young collections cost little.
SERVING_GC_THRESHOLDS = (10_000, 20, 10)


@contextmanager
def _serving_gc(*, enabled: bool) -> Iterator[None]:
    """While serving, keep the cyclic garbage collector's pauses out of the request tail.

    The imported framework, the app and its routes are some 100,000 objects that live as long
    as the process; every full collection walked them all, 20 to 90 ms during which no request
    moved, and under write load these pauses were the p99 of POST facts. They are frozen
    (skipped by later collections) once the app has started, and young collections are rarer
    (:data:`SERVING_GC_THRESHOLDS`); what requests allocate is collected as before. Both are
    undone at shutdown, so a process that builds several apps (tests) collects the old ones.
    """
    if not enabled:
        yield
        return
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
