"""One command for Caseledger's benchmarks: synthetic partnerships, timings, a results table.

    python -m benchmarks.run [--sizes 10000,100000,1000000] [--postgres] [--postgres-sizes S]
                             [--skip-append] [--skip-http] [--quick] [--json FILE]

Generates invented partnerships (reproducible seed) of each size, on the embedded SQLite
store and with ``--postgres`` also on PostgreSQL (a fresh database per size), and measures,
median of 3 where it is a rate: the role view of a 200-fact case (p50/p95), erasure of a
subject with 500 facts (and its epoch), projection rebuild events/s, audit verify entries/s,
and (SQLite) the RSS of a ``caseledger serve`` process after serving views of the store.
Then the epoch for an owner with 100,000 scope keys, the sealed-vs-unsealed append ratio
(``benchmarks.bench_ledger``) and HTTP throughput (``benchmarks.bench_http``) on the same
backends. ``--quick`` (10,000 events, reduced append and HTTP runs) runs in CI so this code
cannot rot.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.bootstrap import Services, build_services
from api.settings import Settings
from benchmarks import bench_http, bench_ledger
from ledger import NewFact, RequestContext
from ledger import _erasure as erasure
from ledger._audit_entries import AccessEntry
from ledger._keystore import ScopeKeyRow
from ledger._scope_keys import scope_context
from ledger._sealing import new_key, new_key_id
from policies import PartnerId, Principal, RoleId, UserId, sample_covenant_path
from projections import ReadRequest

PURPOSE = "zvh_joint_approach"
OWNERS = ("politie", "reclassering", "ggz", "woningcorporatie", "gemeente")


def _ctx(partner: str, role: str = "deelnemer") -> RequestContext:
    principal = Principal(UserId(f"{partner}-bench"), PartnerId(partner), frozenset({RoleId(role)}))
    return RequestContext(principal, PURPOSE)


REGIE = _ctx("zvh", "procesregisseur")


def _fact(rng: random.Random, subjects: Sequence[str], owner: str) -> NewFact:
    level = rng.choice(["participants", "regie", "partners"])
    categories = ("health",) if level == "partners" and owner == "ggz" else ("housing",)
    partners = ("reclassering",) if level == "partners" else ()
    return NewFact(
        "observation",
        tuple(rng.sample(list(subjects), 1)),
        categories,
        PURPOSE,
        "wgs",
        level,
        partners,
        {"text": f"invented note {rng.randrange(10**9)} " + "x" * rng.randrange(50, 300)},
    )


def open_case(services: Services, n_subjects: int = 2) -> tuple[str, list[str]]:
    ledger = services.ledger
    case_id = ledger.open_case(
        REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=3
    ).case_id
    ledger.triage(REGIE, case_id, decision="accept", reason="bench")
    for org in OWNERS[1:]:
        ledger.invite_participant(REGIE, case_id, org=org)
    subjects = [
        str(ledger.add_subject(REGIE, case_id, case_role="client").created_id)
        for _ in range(n_subjects)
    ]
    return case_id, subjects


def fill_case(
    services: Services, rng: random.Random, case_id: str, subjects: list[str], facts: int
) -> None:
    per_owner: dict[str, list[NewFact]] = {}
    for _ in range(facts):
        owner = rng.choice(OWNERS)
        per_owner.setdefault(owner, []).append(_fact(rng, subjects, owner))
    for owner, batch in per_owner.items():
        for start in range(0, len(batch), 100):
            services.ledger.record_facts(_ctx(owner), case_id, batch[start : start + 100])


def generate(services: Services, events: int, seed: int, progress: Callable[[int], None]) -> None:
    """Cases of up to 1,000 facts each until the store holds ``events`` events."""
    rng = random.Random(seed)
    recorder = services.ledger.recorder
    while (done := recorder.max_notification_id() or 0) < events:
        case_id, subjects = open_case(services, n_subjects=4)
        fill_case(services, rng, case_id, subjects, min(1000, max(events - done - 10, 10)))
        progress(recorder.max_notification_id() or 0)
    services.runner.catch_up()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_view(services: Services, rng: random.Random, iterations: int) -> dict[str, float]:
    case_id, subjects = open_case(services)
    fill_case(services, rng, case_id, subjects, 200)
    request = ReadRequest(_ctx("reclassering").principal, PURPOSE)
    services.reads.case_overview(request, case_id)  # warm caches
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        view = services.reads.case_overview(request, case_id)
        samples.append((time.perf_counter() - started) * 1000)
    assert view.facts, "the reader must see facts"
    return {
        "p50_ms": round(percentile(samples, 0.5), 2),
        "p95_ms": round(percentile(samples, 0.95), 2),
    }


def bench_erasure(services: Services, rng: random.Random) -> dict[str, float]:
    case_id, subjects = open_case(services, n_subjects=1)
    fill_case(services, rng, case_id, subjects, 500)
    keys = services.ledger.keys
    started = time.perf_counter()
    destroyed = erasure.destroy_subject(keys, case_id, subjects[0])
    destroy_s = time.perf_counter() - started
    started = time.perf_counter()
    erasure.run_epoch(keys, destroyed)
    epoch_s = time.perf_counter() - started
    return {"destroy_ms": round(destroy_s * 1000, 2), "epoch_ms": round(epoch_s * 1000, 2)}


def bench_owner_epoch(services: Services, scope_keys: int) -> dict[str, float]:
    """The epoch for an owner holding ``scope_keys`` scope keys (keys made directly)."""
    keys = services.ledger.keys
    owner = "bwt"
    for start in range(0, scope_keys, 1000):
        with keys.store.transaction(write=True) as tx:
            rows = []
            for i in range(start, min(scope_keys, start + 1000)):
                key_id = new_key_id().hex()
                row = ScopeKeyRow(key_id, owner, f"bench-case-{i}", "", "derive", 0, b"")
                version, wrapped = keys.keyring.wrap(owner, new_key(), scope_context(row, key_id))
                rows.append((key_id, owner, row.case_id, "", "derive", version, wrapped))
            tx.executemany(
                "INSERT INTO scope_keys (key_id, owner, case_id, subject_id, kind, kek_version,"
                " wrapped) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    started = time.perf_counter()
    report = services.ledger.rotate_keys([owner])
    elapsed = time.perf_counter() - started
    return {"scope_keys": report.scope_keys_rewrapped, "seconds": round(elapsed, 2)}


def bench_rebuild(services: Services, runs: int) -> float:
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        applied = services.runner.rebuild()
        rates.append(applied / (time.perf_counter() - started))
    return round(statistics.median(rates))


def bench_verify(services: Services, entries: int, runs: int) -> float:
    log = services.access_log
    missing = entries - log.count()
    entry = AccessEntry(
        "bench-user",
        "reclassering",
        "deelnemer",
        PURPOSE,
        "bench-case",
        "allowed",
        "allowed_sharing",
        ("f1", "f2"),
        log.pseudonym("s"),
    )
    now = datetime.now(UTC)
    for start in range(0, max(missing, 0), 10_000):
        log.append([entry] * min(10_000, missing - start), now=now)
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        report = log.verify()
        rates.append(report.entries / (time.perf_counter() - started))
        assert report.ok
    return round(statistics.median(rates))


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def server_rss(data_dir: Path, cases: list[str], views_per_case: int = 2) -> dict[str, float]:
    """RSS of a one-worker ``caseledger serve`` on this store after it served case views.

    The server is started cold on the generated data dir, reads (and logs) views of up to
    ``cases`` as the procesregisseur, and its resident memory is read from /proc.
    """
    env = {**os.environ, "CASELEDGER_DATA_DIR": str(data_dir)}
    with bench_http.serving(env, workers=1) as (base, pid):
        started_mb = rss_mb(pid)
        headers = bench_http.auth_headers(Settings(data_dir=data_dir), "zvh", "procesregisseur")
        served = 0
        with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
            for case_id in cases:
                for _ in range(views_per_case):
                    http.get(f"/v1/cases/{case_id}").raise_for_status()
                    served += 1
        return {"views": served, "rss_mb_start": started_mb, "rss_mb": rss_mb(pid)}


def case_ids(services: Services, limit: int) -> list[str]:
    rows = services.views.fetch("SELECT case_id FROM cl_cases ORDER BY opened_at LIMIT ?", (limit,))
    return [str(r[0]) for r in rows]


def run_size(
    settings: Settings,
    size: int,
    *,
    seed: int,
    runs: int,
    view_iterations: int,
    serve_cases: int,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    services = build_services(settings)
    try:
        last = [0.0]

        def progress(done: int) -> None:
            if time.monotonic() - last[0] > 10:
                last[0] = time.monotonic()
                echo(f"  generating {size:,}: {done:,} events")

        started = time.perf_counter()
        generate(services, size, seed, progress)
        generated_s = time.perf_counter() - started
        rng = random.Random(seed + 1)
        echo("  role view, erasure, rebuild, verify ...")
        result: dict[str, Any] = {
            "events": services.ledger.recorder.max_notification_id(),
            "generate_events_per_s": round(size / generated_s),
            "view_200_facts": bench_view(services, rng, view_iterations),
            "erase_subject_500_facts": bench_erasure(services, rng),
            "rebuild_events_per_s": bench_rebuild(services, runs),
            "audit_verify_entries_per_s": bench_verify(services, 100_000, runs),
        }
        cases = case_ids(services, serve_cases)
    finally:
        services.close()
    if settings.database_url is None and serve_cases:
        echo(f"  server RSS after views of {len(cases)} cases ...")
        result["server"] = server_rss(settings.data_dir, cases)
    return result


def _run_backend(
    backend: str, size: int, root: Path, args: argparse.Namespace, echo: Callable[[str], None]
) -> dict[str, Any]:
    covenant = Path(str(sample_covenant_path()))
    options: dict[str, Any] = {
        "seed": args.seed,
        "runs": 1 if args.quick else 3,
        "view_iterations": 30 if args.quick else 200,
        "serve_cases": 20 if args.quick else 300,
        "echo": echo,
    }
    if backend == "sqlite":
        settings = Settings(data_dir=root / f"sqlite-{size}", covenant_path=covenant)
        return run_size(settings, size, **options)
    database = bench_http.create_database()
    try:
        settings = Settings(
            data_dir=root / f"postgres-{size}",
            covenant_path=covenant,
            database_url=f"postgresql://postgres@127.0.0.1:5432/{database}",
        )
        return run_size(settings, size, **options)
    finally:
        bench_http.drop_database(database)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description="Caseledger benchmarks (see module doc).")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="store sizes (SQLite)")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument(
        "--postgres-sizes", help="store sizes on PostgreSQL (default: the same as --sizes)"
    )
    parser.add_argument("--quick", action="store_true", help="10k events, reduced runs (CI)")
    parser.add_argument("--skip-append", action="store_true", help="leave out bench_ledger")
    parser.add_argument("--skip-http", action="store_true", help="leave out bench_http")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--epoch-scope-keys", type=int, default=100_000)
    parser.add_argument("--http-seconds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    pg_sizes = (
        sizes if not args.postgres_sizes else [int(s) for s in args.postgres_sizes.split(",")]
    )
    backends = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    echo = print
    results: dict[str, Any] = {"seed": args.seed, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="caseledger-bench-") as tmp:
        root = Path(tmp)
        for backend in backends:
            results["sizes"][backend] = {}
            for size in sizes if backend == "sqlite" else pg_sizes:
                echo(f"{backend}: store of {size:,} events ...")
                results["sizes"][backend][str(size)] = _run_backend(backend, size, root, args, echo)
        echo("epoch for one owner's scope keys ...")
        settings = Settings(
            data_dir=root / "epoch", covenant_path=Path(str(sample_covenant_path()))
        )
        services = build_services(settings)
        try:
            keys = 10_000 if args.quick else args.epoch_scope_keys
            results["owner_epoch"] = bench_owner_epoch(services, keys)
        finally:
            services.close()
    if not args.skip_append:
        echo("ledger append, sealed vs unsealed ...")
        append_args = ["--facts", "200", "--batched-facts", "2000", "--runs", "1"]
        if not args.quick:
            append_args = ["--facts", "1000", "--batched-facts", "10000", "--runs", "3"]
        results["append"] = bench_ledger.main(
            append_args + (["--postgres"] if args.postgres else [])
        )["results"]
    if not args.skip_http:
        seconds = 2 if args.quick else args.http_seconds
        results["http"] = []
        for backend in backends:
            echo(f"HTTP load on {backend} ({seconds} s per route) ...")
            results["http"].append(bench_http.run(backend, seconds, 16, 2))
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        (
            "role view, 200-fact case, p50 / p95 ms",
            lambda r: f"{r['view_200_facts']['p50_ms']} / {r['view_200_facts']['p95_ms']}",
        ),
        (
            "erase subject (500 facts): destroy / epoch ms",
            lambda r: (
                f"{r['erase_subject_500_facts']['destroy_ms']} / "
                f"{r['erase_subject_500_facts']['epoch_ms']}"
            ),
        ),
        ("projection rebuild events/s", lambda r: f"{r['rebuild_events_per_s']:,}"),
        ("audit verify entries/s", lambda r: f"{r['audit_verify_entries_per_s']:,}"),
        (
            "server RSS after views (MB)",
            lambda r: (
                f"{r['server']['rss_mb']} ({r['server']['views']} views)" if "server" in r else "-"
            ),
        ),
        ("generation events/s (100/save)", lambda r: f"{r['generate_events_per_s']:,}"),
    ]
    for backend, sizes in results["sizes"].items():
        print(f"\n{backend}\n")
        print("| measure | " + " | ".join(f"{int(s):,} events" for s in sizes) + " |")
        print("|---|" + "---:|" * len(sizes))
        for label, cell in rows:
            print(f"| {label} | " + " | ".join(cell(r) for r in sizes.values()) + " |")
        if len(sizes) > 1:
            smallest, largest = min(sizes, key=int), max(sizes, key=int)
            ratio = (
                sizes[largest]["erase_subject_500_facts"]["destroy_ms"]
                / sizes[smallest]["erase_subject_500_facts"]["destroy_ms"]
            )
            print(
                f"\nkey destruction, {int(largest):,} vs {int(smallest):,} events: "
                f"ratio {ratio:.2f} (target <= 1.2)"
            )
    epoch = results["owner_epoch"]
    print(f"\nepoch for an owner with {epoch['scope_keys']:,} scope keys: {epoch['seconds']} s")
    if "append" in results:
        print("\n| store | events/save | sealed events/s | unsealed events/s | ratio |")
        print("|---|---:|---:|---:|---:|")
        for r in results["append"]:
            print(
                f"| {r['backend']} | {r['events_per_save']} | {r['sealed_events_per_s']:,} | "
                f"{r['plain_events_per_s']:,} | {r['ratio']:.2f} |"
            )
    if "http" in results:
        print("\n| store | route | req/s | p50 ms | p99 ms | non-2xx |")
        print("|---|---|---:|---:|---:|---:|")
        for r in results["http"]:
            for route, key in (("POST facts", "post_facts"), ("GET case view", "get_case_view")):
                m = r[key]
                print(
                    f"| {r['backend']} | {route} | {m['requests_per_s']:,} | {m['p50_ms']} | "
                    f"{m['p99_ms']} | {m['non_2xx']} |"
                )


if __name__ == "__main__":
    main()
