"""Reloading the covenant while serving: on SIGHUP, or when asked.

The file is read and validated first; only a valid covenant replaces the one in force, so a
broken edit leaves the service deciding under the old one (and says so in the log). Every
decision, write event and access-log entry from then on records the new covenant's
``<version>:<content hash>``. A request already being handled finishes under whichever
covenant it looked up.

With ``caseledger serve --workers N`` (N > 1), SIGHUP goes to uvicorn's supervisor, which
starts a replacement worker per worker and retires the old one only once the new one is ready:
a worker cannot start with an invalid covenant, so the old workers stay.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable

from fastapi import FastAPI

from api._logging import LOGGER_NAME
from api.bootstrap import Services
from policies import Covenant, CovenantError, load_covenant


def reload_covenant(app: FastAPI) -> Covenant:
    """Load and validate the covenant file again and put it in force.

    Raises ``CovenantError`` (or ``OSError``) and changes nothing when the file is not valid.
    """
    services: Services = app.state.services
    covenant = load_covenant(services.settings.covenant_file)
    services.use_covenant(covenant)
    app.state.verifier.covenant = covenant
    return covenant


def install_hangup_reload(app: FastAPI) -> Callable[[], None]:
    """Reload on SIGHUP (in the running event loop's thread); returns the uninstaller.

    Signals reach only the main thread: an app whose loop runs elsewhere (a test client, an
    embedding host) installs nothing, and its host reloads with ``reload_and_log``.
    """
    if threading.current_thread() is not threading.main_thread():
        return _nothing
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reload_and_log, app)

    def uninstall() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return uninstall


def _nothing() -> None:
    return None


def reload_and_log(app: FastAPI) -> bool:
    """Reload; log the outcome as one line. True when the new covenant is in force."""
    logger = logging.getLogger(LOGGER_NAME)
    previous = app.state.services.covenant.reference
    try:
        covenant = reload_covenant(app)
    except CovenantError as error:
        problems = [f"{p.path}: {p.message}" for p in error.problems]
        logger.warning(
            "covenant_reload_refused",
            extra={"fields": {"in_force": previous, "problems": problems}},
        )
        return False
    except OSError as error:
        logger.warning(
            "covenant_reload_refused",
            extra={"fields": {"in_force": previous, "problems": [type(error).__name__]}},
        )
        return False
    logger.info(
        "covenant_reloaded",
        extra={"fields": {"in_force": covenant.reference, "previous": previous}},
    )
    return True
