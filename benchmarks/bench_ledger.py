"""Facts recorded per second: sealed CaseLedger vs the same application unsealed.

The baseline is the same eventsourcing application (same aggregate, same commands, same
stores) with the stock mapper and no body sealing. Runs at 1 and 100 events per save, on
SQLite and (with --postgres) PostgreSQL, median of 3 runs; with ``--kek-provider pkcs11``
the sealed side keeps its partners' key-encryption keys in a SoftHSM2 token made for the
run. Within a run each application runs in its own process and the two take turns save by
save (see ``paired_run``); the CPU time of work a save leaves to a background thread (the
next block of fact keys) counts for its application.

    python -m benchmarks.bench_ledger [--facts 2000] [--batched-facts 20000] [--runs 3]
                                      [--postgres] [--kek-provider local|pkcs11]
                                      [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper

from ledger import CaseLedger, NewFact, RequestContext, StoreConfig, open_ledger
from ledger._pipeline import utcnow as _utcnow
from ledger._pkcs11 import Pkcs11Config
from ledger._sealing import SealedBody, _sealed_body
from policies import (
    PartnerId,
    Principal,
    RoleId,
    UserId,
    load_covenant,
    sample_covenant_path,
)

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class _NoKeys:
    """Stands in for the key manager: bodies stay plaintext, no key store traffic."""

    generation = None  # commits check no erasure generation

    def sync(self) -> bool:
        return False

    def scope_key(self, *args: Any, **kwargs: Any) -> None:
        return None

    def close(self) -> None:
        return None

    def wait_for_background(self) -> None:
        return None

    def seal_bodies(
        self, owner: str, case_id: str, items: Sequence[tuple[Sequence[str], bytes, bytes]]
    ) -> list[SealedBody]:
        return [_sealed_body(("", plaintext)) for _, plaintext, _ in items]


class PlainCaseLedger(CaseLedger):
    """The baseline: identical application, stock mapper, nothing sealed."""

    def __init__(self, env: dict[str, str]) -> None:
        Application.__init__(self, env)
        self._clock = _utcnow
        # The same covenant as the sealed side: both record its reference on every event.
        self.purposes = load_covenant(sample_covenant_path())
        self.keys = _NoKeys()  # type: ignore[assignment]
        self._init_caches()

    def construct_mapper(self) -> Mapper[UUID]:
        return Mapper(transcoder=self.construct_transcoder())


def _actor(partner: str, role: str) -> RequestContext:
    return RequestContext(
        Principal(UserId(f"{partner}-bench"), PartnerId(partner), frozenset({RoleId(role)})),
        "zvh_joint_approach",
    )


REGIE = _actor("zvh", "procesregisseur")
POLICE = _actor("politie", "deelnemer")


def _fact(i: int, subject: str) -> NewFact:
    return NewFact(
        "observation",
        (subject,),
        ("safety_risk",),
        "zvh_joint_approach",
        "wgs",
        "participants",
        (),
        {"text": f"invented observation number {i} " + "x" * 200},
    )


def _prepare(ledger: CaseLedger) -> tuple[str, str]:
    case_id = ledger.open_case(
        REGIE, purpose="zvh_joint_approach", legal_basis="wgs", referred_by="politie", phase=3
    ).case_id
    ledger.triage(REGIE, case_id, decision="accept", reason="bench")
    subject = ledger.add_subject(REGIE, case_id, case_role="client").created_id
    assert subject is not None
    return case_id, subject


def _ready(make: Callable[[], CaseLedger]) -> tuple[CaseLedger, str, str]:
    """A new ledger with an accepted case, one subject and one fact recorded (warm)."""
    ledger = make()
    case_id, subject = _prepare(ledger)
    ledger.record_fact(
        POLICE,
        case_id,
        kind="observation",
        subjects=[subject],
        categories=[],
        purpose="zvh_joint_approach",
        legal_basis="wgs",
        sharing_level="participants",
        body={"warm": "up"},
    )
    return ledger, case_id, subject


def paired_run(
    makers: dict[str, Callable[[], CaseLedger]], events: int, per_save: int
) -> dict[str, float]:
    """One run: events/s of each application, each in its own process, taking turns.

    Each application runs in a process of its own (as it would in production: its own heap,
    so its own garbage-collector pauses) on fresh stores. The processes take turns, one save
    at a time (which one goes first alternates too), and each times its own saves. Both
    thus see the same moments of the machine (disk flushes, the database server's
    checkpoints and autovacuum, other load) without sharing a heap: in one process, a full
    collection over both applications' objects landed on whichever save happened to
    trigger it, and single runs swung by 20 %. Both processes run on the same CPU: the
    development machines' two virtual CPUs ran the same loop up to 70 % apart, and which
    one was slow changed from minute to minute. Building the batch is not timed.
    """
    context = multiprocessing.get_context("fork")  # the makers are closures
    # Linux: both workers on the first CPU this process may use; elsewhere, wherever they land.
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    workers: dict[str, tuple[Any, Any]] = {}
    try:
        for name, make in makers.items():
            ours, theirs = context.Pipe()
            process = context.Process(target=_take_turns, args=(make, per_save, theirs, cpu))
            process.start()
            theirs.close()  # so that a worker that dies is seen as the end of its pipe
            workers[name] = (process, ours)
        for _, conn in workers.values():
            conn.recv()  # ready
        elapsed = dict.fromkeys(workers, 0.0)
        names = list(workers)
        saves = events // per_save
        for s in range(saves):
            for name in names if s % 2 == 0 else reversed(names):
                conn = workers[name][1]
                conn.send(s)
                elapsed[name] += conn.recv()
        return {name: saves * per_save / seconds for name, seconds in elapsed.items()}
    finally:
        for process, conn in workers.values():
            with contextlib.suppress(OSError):
                conn.send(None)
            process.join(timeout=60)
            if process.exitcode is None:
                process.kill()


def _take_turns(make: Callable[[], CaseLedger], per_save: int, conn: Any, cpu: int | None) -> None:
    """A benchmark worker: one ledger, one timed save per turn it is given, on ``cpu``."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    ledger, case_id, subject = _ready(make)
    try:
        conn.send("ready")
        while (turn := conn.recv()) is not None:
            batch = [_fact(turn * per_save + i, subject) for i in range(per_save)]
            started = time.perf_counter()
            ledger.record_facts(POLICE, case_id, batch)
            elapsed = time.perf_counter() - started
            # Work the save left to a background thread (the next fact-key block) runs on
            # this CPU too: wait for it before handing over the turn, and charge its CPU
            # time (not its waits for the disk) to this application.
            process, own = time.process_time(), time.thread_time()
            ledger.keys.wait_for_background()
            elapsed += (time.process_time() - process) - (time.thread_time() - own)
            conn.send(elapsed)
    finally:
        ledger.close()


def _factories(
    backend: str, root: Path, pkcs11: Pkcs11Config | None = None
) -> dict[str, Callable[[], CaseLedger]]:
    def config() -> StoreConfig:
        data_dir = root / uuid.uuid4().hex
        if backend == "sqlite":
            return StoreConfig(data_dir=data_dir)
        from tests.pg import create_schemas

        suffix = uuid.uuid4().hex[:10]
        create_schemas(f"b_{suffix}_e", f"b_{suffix}_k")
        return StoreConfig(
            data_dir=data_dir,
            database_url=PG_URL,
            events_schema=f"b_{suffix}_e",
            keystore_schema=f"b_{suffix}_k",
        )

    def sealed() -> CaseLedger:
        cfg = dataclasses.replace(config(), pkcs11=pkcs11)
        return open_ledger(cfg, purposes=load_covenant(sample_covenant_path()))

    def plain() -> CaseLedger:
        cfg = config()
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in cfg.application_env().items()
            if k not in {"MAPPER_TOPIC", "CIPHER_TOPIC"}
        }
        return PlainCaseLedger(env)

    return {"sealed": sealed, "plain": plain}


def _softhsm_token(root: Path) -> Pkcs11Config:
    """A fresh SoftHSM2 token for the run; its configuration is set in this process's
    environment before any worker loads the module (workers inherit it when forked)."""
    from tests.softhsm import make_softhsm, softhsm_available

    missing = softhsm_available()
    if missing is not None:
        raise SystemExit(missing)
    (root / "softhsm").mkdir()
    softhsm, conf = make_softhsm(root / "softhsm")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return softhsm.new_token().config


def _drop_bench_schemas() -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'b\\_%'"
        ).fetchall()
        for (name,) in rows:
            conn.execute(f"DROP SCHEMA {name} CASCADE")  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=2000, help="events per run, 1 per save")
    parser.add_argument(
        "--batched-facts", type=int, default=20000, help="events per run at 100 per save"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument(
        "--kek-provider",
        choices=("local", "pkcs11"),
        default="local",
        help="where the sealed side keeps its key-encryption keys (pkcs11: a SoftHSM2 token)",
    )
    parser.add_argument("--json", type=Path, help="write results as JSON here")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="caseledger-bench-") as tmp:
        pkcs11 = _softhsm_token(Path(tmp)) if args.kek_provider == "pkcs11" else None
        for backend in backends:
            makers = _factories(backend, Path(tmp), pkcs11)
            for per_save, events in ((1, args.facts), (100, args.batched_facts)):
                rates: dict[str, list[float]] = {"sealed": [], "plain": []}
                for _ in range(args.runs):
                    for name, rate in paired_run(makers, events, per_save).items():
                        rates[name].append(rate)
                sealed = statistics.median(rates["sealed"])
                plain = statistics.median(rates["plain"])
                results.append(
                    {
                        "backend": backend,
                        "kek_provider": args.kek_provider,
                        "events_per_save": per_save,
                        "sealed_events_per_s": round(sealed),
                        "plain_events_per_s": round(plain),
                        "ratio": round(sealed / plain, 3),
                        "events": events,
                        "runs": args.runs,
                    }
                )
            if backend == "postgres":
                _drop_bench_schemas()
    print("| store | keys | events/save | sealed events/s | unsealed events/s | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['backend']} | {r['kek_provider']} | {r['events_per_save']} | "
            f"{r['sealed_events_per_s']:,} | "
            f"{r['plain_events_per_s']:,} | {r['ratio']:.2f} |"
        )
    report = {"benchmark": "ledger_append", "results": results}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
