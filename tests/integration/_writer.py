"""A writer process for the crash test: records facts until it is killed.

Runs in a child made with ``os.fork()`` (the parent has imported everything already, so the
child starts in milliseconds). A fact id is written to the pipe only after ``record_fact``
returned, so every id the parent reads was acknowledged to the writer.
"""

from __future__ import annotations

import os
import sys
import traceback

from ledger import StoreConfig, open_ledger
from tests.integration._ledger_support import POLITIE, record


def run_writer(config: StoreConfig, case_id: str, subject: str, fd: int, round_no: int) -> None:
    """Record facts forever, reporting each acknowledged id on ``fd``; never returns."""
    code = 3
    try:
        ledger = open_ledger(config)
        n = 0
        while True:
            subjects = [subject] if n % 2 else []
            fact_id = record(
                ledger, POLITIE, case_id, {"round": round_no, "n": n}, subjects=subjects
            )
            os.write(fd, f"{fact_id} {round_no} {n}\n".encode())
            n += 1
    except BaseException:  # the parent sees the exit code; the trace goes to stderr
        traceback.print_exc(file=sys.stderr)
        code = 2
    finally:
        os._exit(code)
