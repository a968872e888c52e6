"""`caseledger demo`: the docs/domain.md scenarios over HTTP, against a server the demo starts.

A fresh data directory gets the sample covenant and a local signing key; uvicorn serves the
app on a free loopback port in a background thread; SC1-SC5 run as the partners would, and
every role's view (or refusal) is printed. Finally every file in the data directory is
searched for the plaintexts that were recorded: the answer must be none.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn
from fastapi import FastAPI

from api import create_local_signing_key, issue_token
from api.app import create_app
from api.settings import Settings
from demo._play import Play, Who
from demo._scenarios import SCENARIOS

DEMO_MARKER = ".caseledger-demo"
Echo = Callable[[str], None]


class DemoServer:
    """uvicorn in a background thread on a free loopback port (``with`` yields the base URL)."""

    def __init__(self, app: FastAPI) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the demo server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


def _fresh(data_dir: Path, echo: Echo) -> Settings | None:
    if data_dir.exists():
        if not (data_dir / DEMO_MARKER).exists():
            echo(f"refusing to reuse {data_dir}: it is not a demo data dir")
            return None
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    (data_dir / DEMO_MARKER).write_text("demo data, safe to delete\n")
    covenant = data_dir / "covenant.toml"
    covenant.write_text(
        resources.files("policies").joinpath("sample_covenant.toml").read_text(), "utf-8"
    )
    settings = Settings(data_dir=data_dir, covenant_path=covenant)
    create_local_signing_key(settings)
    return settings


def run_demo(data_dir: Path, echo: Echo) -> int:
    """Play SC1-SC5 over HTTP in a fresh data dir and report; returns a process exit code."""
    settings = _fresh(data_dir, echo)
    if settings is None:
        return 2
    tokens: dict[Who, str] = {}

    def token(who: Who) -> str:
        if who not in tokens:
            tokens[who] = issue_token(
                settings, sub=f"{who[0]}-{who[1]}", org=who[0], roles=[who[1]]
            )
        return tokens[who]

    plaintexts: list[str] = []
    with DemoServer(create_app(settings)) as base_url, httpx.Client(base_url=base_url) as http:
        echo(f"Caseledger serving on {base_url} (OpenAPI at {base_url}/docs)")
        echo("")
        for scenario in SCENARIOS:
            play = Play(http, token, echo)
            scenario(play)
            plaintexts.extend(play.plaintexts)
            echo("")
    echo(f"Plaintext occurrences in the files of {data_dir}:")
    counts = count_in_files(data_dir, plaintexts)
    for needle, count in counts.items():
        echo(f"  {count}  {needle[:60]}")
    total = sum(counts.values())
    echo(f"total plaintext occurrences on disk: {total}")
    return 0 if total == 0 else 1


def count_in_files(data_dir: Path, needles: list[str]) -> dict[str, int]:
    """How often each plaintext occurs, as raw UTF-8 bytes, in any file of the data dir."""
    blobs = [p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()]
    return {n: sum(blob.count(n.encode()) for blob in blobs) for n in needles}
