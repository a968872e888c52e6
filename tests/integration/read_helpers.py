"""Helpers for the read-path tests: one read stack per store, scenarios, spies and scanners.

A ``ReadStack`` is what the composition root builds (ledger, projections, runner, access log,
read service). On SQLite it comes from ``api.bootstrap.build_services``; on PostgreSQL the
settings have no schema fields yet, so the same parts are built here from a ``StoreConfig``
with the fixture's throw-away schemas. All data is invented.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from api.bootstrap import AUDIT_FILE, AUDIT_KEYS_FILE, build_services
from api.settings import Settings
from ledger import (
    CaseLedger,
    LocalKeyring,
    PurposeRule,
    RequestContext,
    StoreConfig,
    open_ledger,
)
from ledger._audit import AccessLog
from ledger._audit_entries import AccessEntry
from ledger._audit_signing import AuditKeys
from ledger._sql import PostgresDatabase, SQLiteDatabase
from ledger._stores import ensure_schema, postgres_env
from policies import Covenant, load_covenant, sample_covenant_path
from projections import CaseViews, ProjectionRunner, ReadRequest, ReadService, open_views
from projections._store import PROJECTIONS_FILE, VIEW_NAME, PostgresCaseViews
from tests.integration.sc1_ledger import (
    CLERK,
    HOUSING,
    MENTAL_HEALTH,
    POLICE,
    PROBATION,
    PURPOSE,
    REGIE,
    RecordedScenario,
    actor,
    record_sc1,
)
from tests.opening import open_as_recorded
from tests.pg import PG_URL, create_schemas, drop_schemas, pg_dump

COVENANT_PATH = Path(str(sample_covenant_path()))
AUDIT_LOCK_ID = 0x4C4F47
PROJECT_ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

PRIVACY_OFFICER = actor("zvh", "privacy_officer", "fg-jo")
MUNICIPALITY = actor("gemeente", "deelnemer", "gemeente-gijs")


class TickingClock:
    """A deterministic clock: every reading is one millisecond after the previous one."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=1)
            return self._now


STORE_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def temporary_stores(kind: str, data_dir: Path) -> Iterator[StoreConfig]:
    """Fresh stores for fixtures wider than a test (the conftest's ``store_config`` is
    per test): SQLite files in ``data_dir``, or four throw-away PostgreSQL schemas."""
    if kind == "sqlite":
        yield StoreConfig(data_dir=data_dir)
        return
    suffix = uuid.uuid4().hex[:10]
    names = [f"t_{suffix}_{part}" for part in ("events", "keys", "views", "audit")]
    create_schemas(*names)
    try:
        yield StoreConfig(
            data_dir=data_dir,
            database_url=PG_URL,
            events_schema=names[0],
            keystore_schema=names[1],
            views_schema=names[2],
            audit_schema=names[3],
        )
    finally:
        drop_schemas(*names)


# -- the read stack --------------------------------------------------------------------------


@dataclass
class ReadStack:
    """Ledger, projections, runner, access log and read service on one set of stores."""

    config: StoreConfig
    covenant: Covenant
    ledger: CaseLedger
    views: CaseViews
    runner: ProjectionRunner
    access_log: AccessLog
    reads: ReadService
    clock: Callable[[], datetime]

    def close(self) -> None:
        self.runner.stop()
        with contextlib.suppress(Exception):  # a test may have closed or broken it on purpose
            self.access_log.close()
        self.ledger.close()
        self.views.datastore.close()


def open_stack(config: StoreConfig, *, clock: Callable[[], datetime] | None = None) -> ReadStack:
    """The composition root's services for these stores (SQLite via ``build_services``)."""
    clock = clock or TickingClock()
    if config.database_url is None:
        settings = Settings(data_dir=config.data_dir, covenant_path=COVENANT_PATH)
        s = build_services(settings, clock=clock)
        return ReadStack(
            config, s.covenant, s.ledger, s.views, s.runner, s.access_log, s.reads, clock
        )
    covenant = load_covenant(COVENANT_PATH)
    ledger = open_test_ledger(config, clock=clock, purposes=covenant)
    views = views_for(config)
    runner = ProjectionRunner(ledger, views)
    access_log = open_audit_log(config, covenant.access_log.checkpoint_every)
    reads = ReadService(runner, access_log, covenant, clock)
    return ReadStack(config, covenant, ledger, views, runner, access_log, reads, clock)


def open_audit_log(config: StoreConfig, checkpoint_every: int) -> AccessLog:
    """The access log alone (SQLite file or PostgreSQL schema), keys in the data dir."""
    keys = AuditKeys.load_or_create(config.data_dir / AUDIT_KEYS_FILE)
    if config.database_url is None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        database: Any = SQLiteDatabase(config.data_dir / AUDIT_FILE)
    else:
        database = PostgresDatabase(config.database_url, config.audit_schema, lock_id=AUDIT_LOCK_ID)
    return AccessLog(database, keys, checkpoint_every=checkpoint_every)


# The stores' PostgreSQL pools open 10 connections each up front; tests open many ledgers
# and projection handles on a shared server, so theirs are smaller (nothing else differs).
SMALL_POOL = {"POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "8"}


def open_test_ledger(
    config: StoreConfig,
    *,
    clock: Callable[[], datetime] | None = None,
    purposes: PurposeRule | None = None,
) -> CaseLedger:
    """``open_ledger`` (with a small connection pool on PostgreSQL)."""
    timing = {} if clock is None else {"clock": clock}
    if config.database_url is None:
        return open_ledger(config, purposes=purposes, **timing)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    LocalKeyring.create(config.keyring_path)
    env = {**config.application_env(), **SMALL_POOL}
    return CaseLedger(env, purposes=purposes, **timing)


def views_for(config: StoreConfig, *, schema: str | None = None) -> CaseViews:
    """A handle on the projection store, as a (re)started process opens it (``open_views``,
    with a small connection pool on PostgreSQL)."""
    if config.database_url is None:
        return open_views(config, schema=schema)
    schema = schema or config.views_schema
    ensure_schema(config.database_url, schema)
    env = {**postgres_env(config.database_url, schema), **SMALL_POOL}
    factory = InfrastructureFactory[Any].construct(Environment(VIEW_NAME, env))
    views = factory.tracking_recorder(PostgresCaseViews)
    assert isinstance(views, PostgresCaseViews)
    return views


# -- raw SQL on a store, bypassing the application (what a database administrator can do) ---


class RawSQL:
    """An independent autocommit connection to the audit store (SQLite file or PG schema)."""

    def __init__(self, config: StoreConfig, *, schema: str | None = None) -> None:
        self.postgres = config.database_url is not None
        if config.database_url is not None:
            self._pg = psycopg.connect(config.database_url, autocommit=True)
            self._pg.execute(f"SET search_path TO {schema or config.audit_schema}")  # type: ignore[arg-type]
        else:
            self._sqlite = sqlite3.connect(
                str(config.data_dir / AUDIT_FILE), isolation_level=None, timeout=30
            )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            cursor = self._pg.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description is not None else []
        return self._sqlite.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many parameter rows, in one transaction."""
        if self.postgres:
            with self._pg.transaction(), self._pg.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])  # type: ignore[arg-type]
            return
        self._sqlite.execute("BEGIN IMMEDIATE")
        try:
            self._sqlite.executemany(sql, [tuple(r) for r in rows])
        except BaseException:
            self._sqlite.execute("ROLLBACK")
            raise
        self._sqlite.execute("COMMIT")

    def script(self, *statements: tuple[str, Sequence[Any]] | str) -> None:
        """Run statements in one transaction."""
        if self.postgres:
            with self._pg.transaction():
                for s in statements:
                    sql, params = (s, ()) if isinstance(s, str) else s
                    self.execute(sql, params)
            return
        self._sqlite.execute("BEGIN IMMEDIATE")
        try:
            for s in statements:
                sql, params = (s, ()) if isinstance(s, str) else s
                self.execute(sql, params)
        except BaseException:
            self._sqlite.execute("ROLLBACK")
            raise
        self._sqlite.execute("COMMIT")

    def close(self) -> None:
        if self.postgres:
            self._pg.close()
        else:
            self._sqlite.close()


# -- SC1 and its canaries ----------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """One SC1 reader: who, for which declared purpose."""

    name: str
    who: RequestContext
    purpose: str = PURPOSE

    def request(self) -> ReadRequest:
        return ReadRequest(self.who.principal, self.purpose, trace_id=f"trace-{self.name}")


SC1_READERS = (
    Reader("procesregisseur", REGIE),
    Reader("melder_politie", POLICE),
    Reader("reclassering", PROBATION),
    Reader("ggz", MENTAL_HEALTH),
    Reader("woningcorporatie", HOUSING),
    Reader("clerk", CLERK),
    Reader("privacy_officer", PRIVACY_OFFICER, "accountability"),
    Reader("gemeente", MUNICIPALITY),
)
ACTION_TEXTS = ("Betalingsregeling voorstellen", "Intake plannen")
PROCESS_TEXTS = ("stacked problems in 3 domains", "no grounds to defer", *ACTION_TEXTS)


@dataclass
class SC1:
    """SC1 as ``record_sc1`` recorded it, with each fact's label and canary strings."""

    scenario: RecordedScenario
    labels: dict[str, str]
    canaries: dict[str, tuple[str, ...]]

    @property
    def case_id(self) -> str:
        return self.scenario.case_id

    @property
    def subject_id(self) -> str:
        return self.scenario.subject_id

    def fact_id(self, label: str) -> str:
        return next(f for f, lab in self.labels.items() if lab == label)

    def all_canaries(self) -> list[str]:
        return [c for values in self.canaries.values() for c in values]


def record_sc1_with_canaries(ledger: CaseLedger) -> SC1:
    """Record SC1; every string in a fact body is that fact's canary (read as the oracle)."""
    scenario = record_sc1(ledger)
    case = ledger.get_case(scenario.case_id)
    bodies = {b.fact_id: b.body for b in open_as_recorded(ledger, case, list(scenario.facts))}
    canaries = {fid: tuple(_strings(body)) for fid, body in bodies.items()}
    assert all(canaries.values())
    labels = {fid: label for fid, (_, label) in scenario.facts.items()}
    return SC1(scenario, labels, canaries)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def rendered(obj: Any) -> str:
    """Everything a caller could see of a returned object: its repr and its JSON."""
    as_json = ""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        as_json = json.dumps(dataclasses.asdict(obj), default=str, ensure_ascii=False)
    elif isinstance(obj, list | tuple):
        as_json = json.dumps(
            [dataclasses.asdict(o) if dataclasses.is_dataclass(o) else o for o in obj],  # type: ignore[arg-type]
            default=str,
            ensure_ascii=False,
        )
    return repr(obj) + "\n" + as_json


def count_needles(blobs: Iterable[bytes], needles: Iterable[str]) -> dict[str, int]:
    """How often each needle occurs, as UTF-8 bytes, in the blobs (only non-zero counts)."""
    data = list(blobs)
    counts = {n: sum(b.count(n.encode()) for b in data) for n in needles}
    return {n: c for n, c in counts.items() if c}


def sqlite_files(data_dir: Path, *stems: str) -> list[Path]:
    """The database files and their -wal/-shm companions for these file names."""
    return sorted(p for stem in stems for p in data_dir.glob(f"{stem}*") if p.is_file())


def stored_bytes(config: StoreConfig, *, views: bool = True, audit: bool = True) -> list[bytes]:
    """The raw bytes of the projection and/or audit stores (files, or a pg_dump)."""
    if config.database_url is None:
        stems = [s for s, on in ((PROJECTIONS_FILE, views), (AUDIT_FILE, audit)) if on]
        return [p.read_bytes() for p in sqlite_files(config.data_dir, *stems)]
    schemas = [s for s, on in ((config.views_schema, views), (config.audit_schema, audit)) if on]
    return [pg_dump(*schemas)]


def all_stored_bytes(config: StoreConfig) -> list[bytes]:
    """Every file of the data dir plus, on PostgreSQL, a dump of every schema of the stores."""
    blobs = [p.read_bytes() for p in sorted(config.data_dir.rglob("*")) if p.is_file()]
    if config.database_url is not None:
        schemas = [config.views_schema, config.audit_schema, config.keystore_schema]
        schemas += [config.events_schema] if config.events_schema else []
        blobs.append(pg_dump(*schemas))
    return blobs


# -- a fuller history: corrections, retractions, erasures --------------------------------


@dataclass
class History:
    """Ids of what ``record_history`` did (to check erasures and rebuilds against)."""

    sc1: SC1
    second_subject: str
    second_case: str
    canaries: list[str] = field(default_factory=list)


def canary(label: str) -> str:
    return f"CANARY-{label}-{os.urandom(6).hex()}"


def record_history(ledger: CaseLedger, after_each: Callable[[], object] = lambda: None) -> History:
    """SC1 plus every kind of event the projections handle, ending in three erasures.

    ``after_each`` runs after every command (e.g. a catch-up, so the live projection sees
    each erasure arrive after the events it redacts).
    """
    sc1 = record_sc1_with_canaries(ledger)
    after_each()
    case_id = sc1.case_id
    arrears, arrests = sc1.fact_id("rent arrears"), sc1.fact_id("arrests")
    history = History(sc1, "", "")

    def fact(who: RequestContext, case: str, subjects: list[str], label: str, **kw: Any) -> str:
        text = canary(label)
        history.canaries.append(text)
        fid = ledger.record_fact(
            who,
            case,
            kind=kw.pop("kind", "observation"),
            subjects=subjects,
            categories=kw.pop("categories", ["housing"]),
            purpose=PURPOSE,
            legal_basis="wgs",
            sharing_level=kw.pop("level", "participants"),
            sharing_partners=kw.pop("partners", []),
            body={"text": text},
        ).created_id
        assert fid is not None
        after_each()
        return fid

    for n in range(2):
        text = canary(f"arrears-correction-{n}")
        history.canaries.append(text)
        ledger.correct_fact(HOUSING, case_id, arrears, body={"text": text})
        after_each()
    ledger.retract_fact(POLICE, case_id, arrests, reason="recorded in error")
    after_each()
    actions = ledger.get_case(case_id).actions
    ledger.change_action_status(REGIE, case_id, sorted(actions)[0], status="in_progress")
    after_each()
    ledger.change_phase(REGIE, case_id, phase=2, reason="de-escalated")
    after_each()
    consent_id = ledger.record_consent(
        HOUSING,
        case_id,
        subject=sc1.subject_id,
        purpose=PURPOSE,
        categories=["finance"],
        recipients=["woningcorporatie"],
    ).created_id
    assert consent_id is not None
    after_each()
    ledger.withdraw_consent(HOUSING, case_id, consent_id)
    after_each()

    # A second subject in SC1 with its own facts; then that subject is erased.
    subject_b = ledger.add_subject(REGIE, case_id, case_role="household_member").created_id
    assert subject_b is not None
    history.second_subject = subject_b
    after_each()
    fact(HOUSING, case_id, [subject_b], "subject-b-housing")
    fact(MENTAL_HEALTH, case_id, [sc1.subject_id, subject_b], "subject-ab-care", level="regie")
    ledger.erase_subject(REGIE, case_id, subject_b, ground="art17_request")
    after_each()

    # One fact erased on its own.
    doomed = fact(HOUSING, case_id, [sc1.subject_id], "erased-fact")
    ledger.erase_fact(REGIE, case_id, doomed, ground="art17_request")
    after_each()

    # A whole second case, then erased.
    second = ledger.open_case(
        REGIE, purpose=PURPOSE, legal_basis="wgs", referred_by="politie", phase=2
    ).case_id
    history.second_case = second
    after_each()
    ledger.triage(REGIE, second, decision="accept", reason="second case reason")
    after_each()
    subject_c = ledger.add_subject(REGIE, second, case_role="client").created_id
    assert subject_c is not None
    after_each()
    ledger.invite_participant(REGIE, second, org="ggz")
    after_each()
    fact(POLICE, second, [subject_c], "second-case-police", categories=["safety_risk"])
    fact(MENTAL_HEALTH, second, [subject_c], "second-case-ggz", categories=["care_need"])
    what = canary("action")
    history.canaries.append(what)
    ledger.agree_action(REGIE, second, assignee="ggz", what=what, due="2026-12-24")
    after_each()
    ledger.remove_participant(REGIE, second, org="ggz")
    after_each()
    ledger.close_case(REGIE, second, reason="done")
    after_each()
    ledger.erase_case(REGIE, second, ground="retention")
    after_each()
    return history


# -- reads ------------------------------------------------------------------------------


def read_as_everyone(reads: ReadService, case_ids: Sequence[str]) -> list[Any]:
    """Every SC1 reader asks for every view of every case; returns what came back."""
    results: list[Any] = []
    for reader in SC1_READERS:
        request = reader.request()
        results.append(reads.list_cases(request))
        for case_id in case_ids:
            for view in (reads.case_overview, reads.action_list):
                try:
                    results.append(view(request, case_id))
                except Exception as error:  # a denial is a result too (its message is scanned)
                    results.append(repr(error))
    return results


class CallCounter:
    """Wraps a callable and counts calls (a spy on ``ledger.open_bodies``)."""

    def __init__(self, wrapped: Callable[..., Any]) -> None:
        self.wrapped = wrapped
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.wrapped(*args, **kwargs)


# -- access-log entries for the tamper tests --------------------------------------------------


def invented_entries(log: AccessLog, n: int, *, start: int = 0) -> list[AccessEntry]:
    orgs = ("zvh", "politie", "ggz", "reclassering", "woningcorporatie")
    return [
        AccessEntry(
            actor=f"user-{(start + i) % 7}",
            org=orgs[(start + i) % len(orgs)],
            role="deelnemer",
            purpose=PURPOSE,
            case_id=f"case-{(start + i) % 11:02d}",
            decision="allowed" if (start + i) % 4 else "denied",
            reason="allowed_participant" if (start + i) % 4 else "sharing_excludes_reader",
            fact_ids=(f"fact-{start + i:05d}", f"fact-{start + i + 1:05d}"),
            subject=log.pseudonym(f"subject-{(start + i) % 13}"),
            on_behalf_of=f"lead-{(start + i) % 3}",
            emergency=(start + i) % 50 == 0,
            trace_id=f"trace-{start + i:05d}",
            covenant=f"{1 + (start + i) // 500}:{'c' * 64}",
        )
        for i in range(n)
    ]


# -- consistency of the projections with the event log ----------------------------------


def events_up_to(ledger: CaseLedger, position: int) -> tuple[int, int]:
    """(number of case events, number of FactRecorded) with notification id <= position."""
    events = facts = 0
    start = 1
    while start <= position:
        page = ledger.recorder.select_notifications(start=start, limit=1000, stop=position)
        if not page:
            break
        for n in page:
            events += 1
            facts += n.topic.endswith("Case.FactRecorded")
        start = page[-1].id + 1
    return events, facts


def assert_views_match_prefix(views: CaseViews, ledger: CaseLedger) -> int:
    """The projections hold exactly the events up to their tracked position: no partial
    batch, nothing skipped, nothing twice. Returns the position."""
    position = views.max_tracking_id(ledger.name) or 0
    events, facts = events_up_to(ledger, position)
    (versions,) = views.fetch("SELECT COALESCE(SUM(version), 0) FROM cl_cases")[0]
    (fact_rows,) = views.fetch("SELECT COUNT(*) FROM cl_facts")[0]
    assert (int(versions), int(fact_rows)) == (events, facts), f"at position {position}"
    return position


# -- a projection in a separate process that can be SIGKILLed ---------------------------------


def config_json(config: StoreConfig) -> str:
    values = dataclasses.asdict(config)
    values["data_dir"] = str(config.data_dir)
    return json.dumps(values)


def follow_forever(config_text: str, batch_size: str) -> None:
    """Child-process entry point: follow the ledger into the projections until killed."""
    values = json.loads(config_text)
    values["data_dir"] = Path(values["data_dir"])
    config = StoreConfig(**values)
    ledger = open_test_ledger(config)
    runner = ProjectionRunner(ledger, views_for(config), batch_size=int(batch_size))
    while True:
        if not runner.catch_up():
            time.sleep(0.005)


class ProjectionProcess:
    """A projection runner in its own OS process (killed with SIGKILL, no clean-up)."""

    def __init__(self, config: StoreConfig, *, batch_size: int) -> None:
        code = (
            "import sys; from tests.integration.read_helpers import follow_forever;"
            " follow_forever(sys.argv[1], sys.argv[2])"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, config_json(config), str(batch_size)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.stderr = ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (no clean-up, no rollback by the child itself); safe to call twice."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        stderr = self.process.stderr
        if stderr is not None and not stderr.closed:
            self.stderr = stderr.read().decode(errors="replace")
            stderr.close()


def wait_for(condition: Callable[[], bool], *, what: str, limit: float = 60.0) -> None:
    """Poll a condition on state (a safety limit only; tests never assert durations)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)
