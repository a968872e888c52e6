"""Helpers for the ledger acceptance tests: invented cases, raw copies of stores, scans."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ledger import Case, CaseLedger, LocalKeyring, RequestContext, StoreConfig, open_ledger
from ledger._stores import EVENTS_FILE, KEYRING_FILE, KEYSTORE_FILE
from tests.conftest import ctx
from tests.opening import open_as_recorded
from tests.pg import PG_HOST, admin_execute, pg_dump, restore

REGIE = ctx("zvh", "procesregisseur")
POLITIE = ctx("politie")
RECLASSERING = ctx("reclassering")
GEMEENTE = ctx("gemeente")
PRIVACY_OFFICER = ctx("zvh", "privacy_officer", "privacy_request")
PURPOSE = "zvh_joint_approach"


def open_active_case(ledger: CaseLedger, *, invite: Sequence[str] = ("reclassering",)) -> str:
    """Open and accept an invented case (referred by politie) and invite partners."""
    case_id = ledger.open_case(
        REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=3
    ).case_id
    ledger.triage(REGIE, case_id, decision="accept", reason="complex situation")
    for org in invite:
        ledger.invite_participant(REGIE, case_id, org=org)
    return case_id


def add_subject(
    ledger: CaseLedger, case_id: str, who: RequestContext = REGIE, role: str = "client"
) -> str:
    subject_id = ledger.add_subject(who, case_id, case_role=role).created_id
    assert subject_id is not None
    return subject_id


def record(
    ledger: CaseLedger,
    who: RequestContext,
    case_id: str,
    body: Any,
    *,
    subjects: Sequence[str] = (),
    kind: str = "observation",
    categories: Sequence[str] = ("housing",),
    purpose: str = PURPOSE,
    **kwargs: Any,
) -> str:
    """Record a fact and return its id."""
    fact_id = ledger.record_fact(
        who,
        case_id,
        kind=kind,
        subjects=list(subjects),
        categories=list(categories),
        purpose=purpose,
        legal_basis="wgs",
        sharing_level=kwargs.pop("sharing_level", "participants"),
        body=body,
        **kwargs,
    ).created_id
    assert fact_id is not None
    return fact_id


def bodies(ledger: CaseLedger, case_id: str) -> dict[str, Any]:
    """Every fact the case still lists, mapped to its opened body (None when redacted)."""
    case = ledger.get_case(case_id)
    return {b.fact_id: b.body for b in open_as_recorded(ledger, case, list(case.facts))}


def readable(ledger: CaseLedger, case_id: str) -> dict[str, Any]:
    """Only the facts whose bodies open."""
    return {f: b for f, b in bodies(ledger, case_id).items() if b is not None}


def case_state(case: Case) -> dict[str, Any]:
    """Metadata of a case that replay must reproduce (no bodies, no sealed bytes)."""
    return {
        "id": case.case_id,
        "version": case.version,
        "status": case.status,
        "phase": case.phase,
        "purpose": case.purpose,
        "participants": {org: p.removed_at is None for org, p in sorted(case.participants.items())},
        "subjects": {s: v.case_role for s, v in sorted(case.subjects.items())},
        "facts": {
            f.fact_id: (
                f.owner,
                f.kind,
                f.categories,
                f.subjects,
                f.erased,
                f.retracted_at is not None,
                len(f.revisions),
            )
            for f in case.facts.values()
        },
        "redacted_events": case.redacted_events,
        "erasures": [e["scope"] for e in case.erasures],
    }


def event_versions(ledger: CaseLedger, case_id: str) -> list[int]:
    return [e.originator_version for e in ledger.events.get(uuid.UUID(case_id))]


def stored_event_count(ledger: CaseLedger) -> int:
    """Events in the store, counted (PostgreSQL sequences skip ids on rollback)."""
    return len(ledger.recorder.select_notifications(start=1, limit=1_000_000))


# -- a shared invented world -----------------------------------------------------------------


@dataclass
class World:
    """Two cases; case 1 has subjects A and B and facts of three owners."""

    case_1: str
    case_2: str
    subject_a: str
    subject_b: str
    facts: dict[str, str] = field(default_factory=dict)  # name -> fact id
    expected: dict[str, Any] = field(default_factory=dict)  # fact id -> body

    def ids(self, *names: str) -> set[str]:
        return {self.facts[n] for n in names}

    @property
    def all_ids(self) -> set[str]:
        return set(self.facts.values())


def build_world(ledger: CaseLedger) -> World:
    case_1 = open_active_case(ledger)
    case_2 = open_active_case(ledger)
    a = add_subject(ledger, case_1)
    b = add_subject(ledger, case_1, role="parent")
    w = World(case_1, case_2, a, b)
    plan: list[tuple[str, Any, str, list[str], dict[str, Any]]] = [
        ("identity_a", REGIE, case_1, [a], {"name": "Invented Person A", "born": "1990-01-01"}),
        ("identity_b", REGIE, case_1, [b], {"name": "Invented Person B", "born": "1970-02-02"}),
        ("politie_a", POLITIE, case_1, [a], {"note": "politie about A"}),
        ("politie_b", POLITIE, case_1, [b], {"note": "politie about B"}),
        ("reclassering_a", RECLASSERING, case_1, [a], {"note": "reclassering about A"}),
        ("reclassering_ab", RECLASSERING, case_1, [a, b], {"note": "reclassering about A+B"}),
        ("regie_case", REGIE, case_1, [], {"note": "case-level note"}),
        ("politie_case", POLITIE, case_1, [], {"note": "politie case-level note"}),
        ("politie_2", POLITIE, case_2, [], {"note": "politie in case 2"}),
        ("reclassering_2", RECLASSERING, case_2, [], {"note": "reclassering in case 2"}),
    ]
    for name, who, case_id, subjects, body in plan:
        categories = ["identity"] if name.startswith("identity") else ["housing"]
        fact_id = record(ledger, who, case_id, body, subjects=subjects, categories=categories)
        w.facts[name] = fact_id
        w.expected[fact_id] = body
    # A corrected fact: the erasure must cover every revision.
    ledger.correct_fact(POLITIE, case_1, w.facts["politie_a"], body={"note": "politie about A v2"})
    w.expected[w.facts["politie_a"]] = {"note": "politie about A v2"}
    return w


def all_bodies(ledger: CaseLedger, w: World) -> dict[str, Any]:
    """Bodies of every fact both cases still list (None when redacted)."""
    return {**bodies(ledger, w.case_1), **bodies(ledger, w.case_2)}


# -- raw copies of the stores ---------------------------------------------------------------


def copy_sqlite_db(src: Path, dst: Path) -> None:
    """Copy a live SQLite database file as a backup would: the file plus its WAL."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    for suffix in ("-wal",):
        side = src.with_name(src.name + suffix)
        if side.exists():
            shutil.copyfile(side, dst.with_name(dst.name + suffix))


def copy_events(config: StoreConfig, data_dir: Path) -> None:
    copy_sqlite_db(config.events_path, data_dir / EVENTS_FILE)


def copy_keystore(config: StoreConfig, data_dir: Path) -> None:
    copy_sqlite_db(config.keystore_path, data_dir / KEYSTORE_FILE)


def copy_keyring(config: StoreConfig, data_dir: Path) -> None:
    """The current keyring beside a copy (keys in a token stay where they are)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if config.pkcs11 is None:
        shutil.copyfile(config.keyring_path, data_dir / KEYRING_FILE)


def integrity_check(path: Path) -> str:
    with sqlite3.connect(str(path)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@contextmanager
def pg_database() -> Iterator[str]:
    """A throw-away PostgreSQL database, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_execute(f"CREATE DATABASE {name}", dbname="postgres")
    try:
        yield name
    finally:
        admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", dbname="postgres")


def pg_url(dbname: str) -> str:
    return f"postgresql://postgres@{PG_HOST}:5432/{dbname}"


def dump_events(config: StoreConfig) -> bytes:
    assert config.events_schema is not None
    return pg_dump(config.events_schema)


def dump_keys(config: StoreConfig) -> bytes:
    return pg_dump(config.keystore_schema)


def restored_config(config: StoreConfig, dbname: str, data_dir: Path, *dumps: bytes) -> StoreConfig:
    """The same schemas restored from dumps into ``dbname``, with its own data dir."""
    for dump in dumps:
        restore(dump, dbname)
    data_dir.mkdir(parents=True, exist_ok=True)
    return replace(config, data_dir=data_dir, database_url=pg_url(dbname))


# The library's default pool keeps 10 PostgreSQL connections open per ledger; tests open
# several ledgers at once next to other suites, so they use a small pool.
SMALL_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "4"}


def open_test_ledger(config: StoreConfig) -> CaseLedger:
    """``open_ledger``, with a small connection pool on PostgreSQL."""
    if config.database_url is None:
        return open_ledger(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    LocalKeyring.create(config.keyring_path)
    return CaseLedger({**config.application_env(), **SMALL_POOL})


@contextmanager
def opened(config: StoreConfig) -> Iterator[CaseLedger]:
    ledger = open_test_ledger(config)
    try:
        yield ledger
    finally:
        ledger.close()


# -- scanning for plaintext -------------------------------------------------------------------


def encodings(canary: str) -> list[bytes]:
    """The raw byte forms a leaked string would take in a file."""
    return [canary.encode("utf-8"), canary.encode("utf-16-le"), canary.encode("utf-16-be")]


def files_holding(
    directory: Path, needles: Sequence[bytes], *, live_server: bool = False
) -> list[str]:
    """Files under ``directory`` whose raw bytes contain any needle.

    ``live_server``: the directory belongs to a running server, whose files and directories
    may vanish while they are read (a recycled WAL segment, a dropped database); those are
    skipped. Otherwise every file must be readable.
    """
    hits = []

    def unreadable(error: OSError) -> None:
        if not (live_server and isinstance(error, FileNotFoundError)):
            raise error

    for root, _, names in os.walk(directory, onerror=unreadable, followlinks=True):
        for name in sorted(names):
            path = Path(root) / name
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                if live_server:
                    continue
                raise
            if any(n in raw for n in needles):
                hits.append(str(path))
    return sorted(hits)
