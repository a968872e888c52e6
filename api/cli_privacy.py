"""CLI for the privacy officer: audit queries and exports, retention runs.

Audit queries and exports are supervision reads like ``GET /v1/audit/entries``: each is
decided for the officer named by ``--officer`` (policies.decide_supervision) and appended to
the access log it read, after the read, as the API does.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api._cli_support import (
    INSTANT_HELP,
    Command,
    Group,
    parse_instant,
    progress_on_terminal,
    refuse,
)
from api.bootstrap import Services, build_services
from api.settings import Settings
from ledger import export_csv, export_jsonl
from policies import (
    AccessDecision,
    CovenantError,
    PartnerId,
    Principal,
    ReasonCode,
    RoleId,
    UserId,
    decide_supervision,
)
from projections import PrivacyOffice, ReadRequest

retention_app = typer.Typer(
    help="Retention: erase what the covenant says is due.", no_args_is_help=True, cls=Group
)
DataDir = Annotated[Path | None, typer.Option("--data-dir", metavar="DIR", help="Data directory.")]
Officer = Annotated[
    str,
    typer.Option(
        "--officer", metavar="USER", help="Privacy officer's user id, logged as the reader."
    ),
]
OFFICE = "zvh"


class Decision(StrEnum):
    allowed = "allowed"
    denied = "denied"
    reviewed = "reviewed"


class Shape(StrEnum):
    """Field names of an export: Logboek Dataverwerkingen or NEN 7513."""

    ldv = "ldv"
    nen7513 = "nen7513"


class QueryFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def _services(data_dir: Path | None) -> Services:
    try:
        return build_services(Settings.from_environ(os.environ, data_dir=data_dir))
    except CovenantError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def _officer(actor: str, trace_id: str = "cli") -> ReadRequest:
    principal = Principal(UserId(actor), PartnerId(OFFICE), frozenset({RoleId("privacy_officer")}))
    return ReadRequest(principal, "accountability", trace_id=trace_id)


def _supervision(services: Services, request: ReadRequest) -> AccessDecision:
    """The officer's access-log read, decided as the API decides it; refused: exit 2."""
    decision = decide_supervision(services.covenant, request.principal, request.purpose)
    if not decision.allowed:
        refuse(f"the covenant does not let {OFFICE} privacy officers read the access log")
    return decision


def _record(
    services: Services, request: ReadRequest, decision: AccessDecision, case_id: str = ""
) -> None:
    """Log the read itself, as ``GET /v1/audit/entries`` logs its queries."""
    entry = services.reads.case_entry(request, case_id, decision)
    services.access_log.append([entry], now=services.clock())


@retention_app.command("run", cls=Command)
def retention_run(
    now: Annotated[
        str | None,
        typer.Option("--now", metavar="TIME", help=f"Evaluate as of this time. {INSTANT_HELP}"),
    ] = None,
    allow_past: Annotated[
        bool, typer.Option("--allow-past", help="Let --now lie in the past.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, erase nothing.")] = False,
    actor: Annotated[
        str, typer.Option("--actor", metavar="USER", help="Recorded as requester.")
    ] = "retention",
    data_dir: DataDir = None,
) -> None:
    """Apply the covenant's retention rules via the erasure primitives and the epoch."""
    at = parse_instant(now, "--now")
    if at is not None and at < datetime.now(UTC) and not allow_past:
        refuse("--now: lies in the past; add --allow-past to evaluate as of then")
    services = _services(data_dir)
    try:
        office = PrivacyOffice(services.reads)
        with progress_on_terminal("retention") as progress:
            report = office.run_retention(
                _officer(actor), now=at, dry_run=dry_run, progress=progress
            )
    finally:
        services.close()
    verb = "would erase" if report.dry_run else "erased"
    typer.echo(f"as of {report.now}: {verb} {len(report.erasures)} scope(s)")
    for item in report.erasures:
        target = item.get("target_id") or item.get("fact_id") or item.get("case_id")
        typer.echo(f"  {item['scope']:<7} {target}  ground={item['ground']}")
    for hold in report.holds:
        typer.echo(f"  held    {hold['case_id']}  due since {hold['due_since']}: {hold['holds']}")


def audit_query(
    subject: Annotated[
        str | None, typer.Option(metavar="SUBJECT", help="Subject id (matched by pseudonym).")
    ] = None,
    case: Annotated[str | None, typer.Option(metavar="CASE", help="Case id.")] = None,
    actor: Annotated[
        str | None, typer.Option(metavar="USER", help="User id of the reader.")
    ] = None,
    org: Annotated[
        str | None, typer.Option(metavar="PARTNER", help="Partner id of the reader.")
    ] = None,
    purpose: Annotated[str | None, typer.Option(metavar="PURPOSE", help="Purpose id.")] = None,
    decision: Annotated[Decision | None, typer.Option(help="Decision.")] = None,
    reason: Annotated[
        ReasonCode | None,
        typer.Option(metavar="CODE", help="Reason code, as `policy explain` names it."),
    ] = None,
    emergency: Annotated[
        bool | None, typer.Option("--emergency/--no-emergency", help="Emergency reads only/not.")
    ] = None,
    time_from: Annotated[
        str | None, typer.Option("--from", metavar="TIME", help=f"Inclusive. {INSTANT_HELP}")
    ] = None,
    time_to: Annotated[
        str | None, typer.Option("--to", metavar="TIME", help=f"Exclusive. {INSTANT_HELP}")
    ] = None,
    after: Annotated[
        int, typer.Option(metavar="SEQ", min=0, help="Entries after this sequence number.")
    ] = 0,
    limit: Annotated[int, typer.Option(metavar="N", min=1, help="At most this many.")] = 100,
    fmt: Annotated[QueryFormat, typer.Option("--format", help="Output format.")] = (
        QueryFormat.table
    ),
    shape: Annotated[Shape, typer.Option(help="Field names for jsonl and csv.")] = Shape.ldv,
    officer: Officer = "cli",
    data_dir: DataDir = None,
) -> None:
    """Query the access log (who saw what, when, why); entries hold pseudonyms only.

    The query is itself logged: an entry for the officer, purpose accountability.
    """
    start, end = parse_instant(time_from, "--from"), parse_instant(time_to, "--to")
    services = _services(data_dir)
    try:
        request = _officer(officer, trace_id="cli-audit-query")
        allowed = _supervision(services, request)
        log = services.access_log
        entries = log.entries(
            after=after,
            limit=limit,
            subject=log.pseudonym(subject) if subject else None,
            case_id=case,
            actor=actor,
            org=org,
            purpose=purpose,
            decision=decision,
            reason=reason,
            time_from=start.isoformat() if start else None,
            time_to=end.isoformat() if end else None,
            emergency=None if emergency is None else ("1" if emergency else "0"),
        )
        _record(services, request, allowed, case or "")
    finally:
        services.close()
    if fmt is QueryFormat.jsonl:
        typer.echo(export_jsonl(entries, shape), nl=False)
    elif fmt is QueryFormat.csv:
        typer.echo(export_csv(entries, shape), nl=False)
    else:
        for e in entries:
            typer.echo(
                f"{e.seq:>7} {e.time} {e.actor:<18} {e.org:<16} {e.purpose:<20} "
                f"{e.case_id[:8]:<8} {e.subject[:8]:<8} {e.decision:<8} {e.reason}"
                + ("  EMERGENCY" if e.emergency else "")
            )


def audit_export(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = (
        ExportFormat.jsonl
    ),
    shape: Annotated[Shape, typer.Option(help="Field names.")] = Shape.ldv,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="FILE", help="File (default stdout).")
    ] = None,
    officer: Officer = "cli",
    data_dir: DataDir = None,
) -> None:
    """Export the whole access log (Logboek Dataverwerkingen or NEN 7513 field names).

    The export is itself logged: an entry for the officer, purpose accountability.
    """
    services = _services(data_dir)
    chunks = []
    try:
        request = _officer(officer, trace_id="cli-audit-export")
        allowed = _supervision(services, request)
        after = 0
        while entries := services.access_log.entries(after=after, limit=10_000):
            chunks.append(
                export_jsonl(entries, shape)
                if fmt is ExportFormat.jsonl
                else export_csv(entries, shape)
            )
            after = entries[-1].seq
        _record(services, request, allowed)
    finally:
        services.close()
    text = "".join(chunks) if fmt is ExportFormat.jsonl else _merge_csv(chunks)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


def _merge_csv(chunks: list[str]) -> str:
    if not chunks:
        return ""
    head, *rest = chunks
    return head + "".join(chunk.split("\n", 1)[1] for chunk in rest)


def register(audit_app: typer.Typer, app: typer.Typer) -> None:
    """Mount these commands on the main CLI."""
    audit_app.command("query", cls=Command)(audit_query)
    audit_app.command("export", cls=Command)(audit_export)
    app.add_typer(retention_app, name="retention")
