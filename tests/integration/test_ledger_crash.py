"""Crash safety on SQLite: a writer killed with SIGKILL at random points loses nothing it
acknowledged and leaves both databases intact."""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
import warnings
from pathlib import Path

import pytest

from ledger import StoreConfig
from tests.integration._ledger_support import (
    POLITIE,
    add_subject,
    event_versions,
    integrity_check,
    open_active_case,
    opened,
    record,
)
from tests.integration._writer import run_writer
from tests.opening import open_as_recorded

ROUNDS = 50


def _fork() -> int:
    # The child only touches objects it creates itself (no inherited connections), so a
    # fork from a process that may hold helper threads is safe here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork.*")
        return os.fork()


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
class TestKilledWriter:
    """50 SIGKILLs at random points: 0 lost acknowledged facts, 0 unreadable, files intact."""

    def test_sigkill_rounds(self, tmp_path: Path) -> None:
        # Small fact-key batches, so kills also land inside key-store commits.
        config = StoreConfig(data_dir=tmp_path / "data", fact_key_batch=2)
        with opened(config) as ledger:
            case_id = open_active_case(ledger)
            subject = add_subject(ledger, case_id)
            record(ledger, POLITIE, case_id, {"warm": "keys"}, subjects=[subject])
        seed = uuid.uuid4().int % 2**32
        rng = random.Random(seed)
        acknowledged: dict[str, tuple[int, int]] = {}
        for round_no in range(ROUNDS):
            read_fd, write_fd = os.pipe()
            pid = _fork()
            if pid == 0:  # pragma: no cover - the child never returns
                os.close(read_fd)
                run_writer(config, case_id, subject, write_fd, round_no)
            os.close(write_fd)
            try:
                time.sleep(rng.uniform(0.005, 0.3))
                os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
                output = _read_all(read_fd)
            finally:
                os.close(read_fd)
            # Killed by us, not dead of an error of its own (that would be exit code 2).
            assert os.WIFSIGNALED(status), (seed, round_no, status)
            assert os.WTERMSIG(status) == signal.SIGKILL
            for line in output.decode().splitlines():
                fact_id, r, n = line.split()
                acknowledged[fact_id] = (int(r), int(n))

        assert len(acknowledged) >= ROUNDS, seed  # the writers did get work done
        with opened(config) as ledger:
            case = ledger.get_case(case_id)
            lost = set(acknowledged) - set(case.facts)
            assert lost == set(), seed
            opened_bodies = open_as_recorded(ledger, case, list(case.facts))  # raises if tampered
            unreadable = [b.fact_id for b in opened_bodies if b.body is None]
            assert unreadable == [], seed
            found = {b.fact_id: b.body for b in opened_bodies}
            for fact_id, (r, n) in acknowledged.items():
                assert found[fact_id] == {"round": r, "n": n}
            assert event_versions(ledger, case_id) == list(range(1, case.version + 1))
        assert integrity_check(config.events_path) == "ok"
        assert integrity_check(config.keystore_path) == "ok"
