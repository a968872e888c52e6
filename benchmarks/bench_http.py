"""HTTP load on loopback: POST facts and GET case view against `caseledger serve`.

Starts the real server (uvicorn, ``--workers 2``) on a free loopback port with a fresh data dir,
opens a case over HTTP, then drives it with ``wrk`` (Debian package ``wrk``) for a bounded
time, or with a small built-in asyncio load generator when wrk is absent. Reports requests/s,
p50 and p99, the count of non-2xx answers, and checks acknowledged writes were stored.

    python -m benchmarks.bench_http [--seconds 10] [--connections 16] [--postgres] [--json F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from api import issue_token
from api.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PURPOSE = "zvh_joint_approach"
VIEW_FACTS = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def _wrk(
    url: str, headers: dict[str, str], seconds: int, connections: int, body: str | None
) -> dict[str, Any]:
    script = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    if body is not None:
        script += 'wrk.method = "POST"\n' + f"wrk.body = [[{body}]]\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(f.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": round(rate),
        "p50_ms": _ms(out, "50%"),
        "p99_ms": _ms(out, "99%"),
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "tool": "wrk",
    }


def _ms(out: str, label: str) -> float:
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)


async def _asyncio_load(
    url: str, headers: dict[str, str], seconds: int, connections: int, body: str | None
) -> dict[str, Any]:
    latencies: list[float] = []
    bad = 0
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal bad
        while time.monotonic() < deadline:
            started = time.perf_counter()
            if body is None:
                response = await client.get(url, headers=headers)
            else:
                response = await client.post(url, headers=headers, content=body)
            latencies.append((time.perf_counter() - started) * 1000)
            bad += response.status_code >= 300

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    ordered = sorted(latencies)
    return {
        "requests_per_s": round(len(ordered) / seconds),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
        "requests": len(ordered),
        "non_2xx": bad,
        "tool": "httpx-asyncio",
    }


def _load(
    url: str, headers: dict[str, str], seconds: int, connections: int, body: str | None
) -> dict[str, Any]:
    if shutil.which("wrk"):
        return _wrk(url, headers, seconds, connections, body)
    return asyncio.run(_asyncio_load(url, headers, seconds, connections, body))


def create_database() -> str:
    """A fresh PostgreSQL database for one benchmark store; its name."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


@contextmanager
def serving(env: dict[str, str], workers: int) -> Iterator[tuple[str, int]]:
    """``caseledger init`` and ``caseledger serve`` on a free loopback port until the block
    ends: its base URL and the server's pid (with one worker, the process that serves)."""
    cli = str(Path(sys.executable).with_name("caseledger"))
    subprocess.run([cli, "init"], env=env, check=True, capture_output=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [cli, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(base, server)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def auth_headers(settings: Settings, org: str, role: str) -> dict[str, str]:
    token = issue_token(settings, sub=f"{org}-bench", org=org, roles=[role])
    return {
        "Authorization": f"Bearer {token}",
        "X-Purpose": PURPOSE,
        "Content-Type": "application/json",
    }


def _open_case(http: httpx.Client, regie: dict[str, str]) -> str:
    case: str = http.post(
        "/v1/cases",
        headers=regie,
        json={"purpose": PURPOSE, "legal_basis": "wgs", "referred_by": "politie", "phase": 3},
    ).json()["case_id"]
    http.post(
        f"/v1/cases/{case}/triage", headers=regie, json={"decision": "accept", "reason": "bench"}
    ).raise_for_status()
    return case


def run(backend: str, seconds: int, connections: int, workers: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="caseledger-http-"))
    env = {**os.environ, "CASELEDGER_DATA_DIR": str(tmp / "data")}
    database = None
    if backend == "postgres":
        database = create_database()
        env["CASELEDGER_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
    try:
        with serving(env, workers) as (base, _):
            settings = Settings(data_dir=tmp / "data")
            return _drive(base, settings, backend, seconds, connections, workers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if database:
            drop_database(database)


def _drive(
    base: str, settings: Settings, backend: str, seconds: int, connections: int, workers: int
) -> dict[str, Any]:
    regie = auth_headers(settings, "zvh", "procesregisseur")
    police = auth_headers(settings, "politie", "melder")
    fact = json.dumps(
        {
            "kind": "observation",
            "subjects": [],
            "categories": ["housing"],
            "purpose": PURPOSE,
            "legal_basis": "wgs",
            "sharing": {"level": "participants"},
            "body": {"text": "invented load-test observation " + "x" * 200},
        }
    )
    with httpx.Client(base_url=base, timeout=30) as http:
        case, view_case = (_open_case(http, regie) for _ in range(2))
        # The view is measured on a case of VIEW_FACTS facts, not on the write-load case
        # (which holds every fact the load posted).
        for _ in range(VIEW_FACTS):
            http.post(
                f"/v1/cases/{view_case}/facts", headers=police, content=fact
            ).raise_for_status()
    writes = _load(f"{base}/v1/cases/{case}/facts", police, seconds, connections, fact)
    views = _load(f"{base}/v1/cases/{view_case}", regie, seconds, connections, None)
    with httpx.Client(base_url=base, timeout=60) as http:
        stored = len(http.get(f"/v1/cases/{case}", headers=regie).json()["facts"])
    writes["stored"] = stored
    writes["acknowledged"] = writes["requests"] - writes["non_2xx"]
    return {
        "backend": backend,
        "workers": workers,
        "connections": connections,
        "seconds": seconds,
        "post_facts": writes,
        "get_case_view": views,
    }


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description="HTTP load on loopback (see module doc).")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    results = [run(b, args.seconds, args.connections, args.workers) for b in backends]
    print("| store | route | req/s | p50 ms | p99 ms | non-2xx | tool |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        for route, key in (("POST facts", "post_facts"), ("GET case view", "get_case_view")):
            m = r[key]
            print(
                f"| {r['backend']} | {route} | {m['requests_per_s']:,} | {m['p50_ms']} | "
                f"{m['p99_ms']} | {m['non_2xx']} | {m['tool']} |"
            )
        w = r["post_facts"]
        print(f"<!-- {r['backend']}: acknowledged {w['acknowledged']}, stored {w['stored']} -->")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
