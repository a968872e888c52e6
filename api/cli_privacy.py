"""CLI for the privacy officer: audit queries and exports, retention runs."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.bootstrap import Services, build_services
from api.settings import Settings
from ledger._audit_export import export_csv, export_jsonl
from policies import CovenantError, PartnerId, Principal, RoleId, UserId
from projections import PrivacyOffice, ReadRequest

retention_app = typer.Typer(
    help="Retention: erase what the covenant says is due.", no_args_is_help=True
)
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")]
OFFICE = "zvh"


def _services(data_dir: Path | None) -> Services:
    try:
        return build_services(Settings.from_environ(os.environ, data_dir=data_dir))
    except CovenantError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def _officer(actor: str) -> ReadRequest:
    principal = Principal(UserId(actor), PartnerId(OFFICE), frozenset({RoleId("privacy_officer")}))
    return ReadRequest(principal, "accountability", trace_id="cli")


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("expected an RFC 3339 time, e.g. 2028-12-01T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@retention_app.command("run")
def retention_run(
    now: Annotated[str | None, typer.Option("--now", help="Evaluate as of this time.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, erase nothing.")] = False,
    actor: Annotated[str, typer.Option("--actor", help="Recorded as requester.")] = "retention",
    data_dir: DataDir = None,
) -> None:
    """Apply the covenant's retention rules via the erasure primitives and the epoch."""
    services = _services(data_dir)
    try:
        office = PrivacyOffice(services.reads)
        with typer.progressbar(length=1, label="retention") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(1)

            report = office.run_retention(
                _officer(actor), now=_instant(now), dry_run=dry_run, progress=progress
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
    subject: Annotated[str | None, typer.Option(help="Subject id (matched by pseudonym).")] = None,
    case: Annotated[str | None, typer.Option(help="Case id.")] = None,
    actor: Annotated[str | None, typer.Option(help="User id.")] = None,
    org: Annotated[str | None, typer.Option(help="Partner id.")] = None,
    purpose: Annotated[str | None, typer.Option(help="Purpose id.")] = None,
    decision: Annotated[str | None, typer.Option(help="allowed | denied | reviewed")] = None,
    reason: Annotated[str | None, typer.Option(help="Reason code.")] = None,
    emergency: Annotated[bool | None, typer.Option("--emergency/--no-emergency")] = None,
    time_from: Annotated[str | None, typer.Option("--from", help="RFC 3339, inclusive.")] = None,
    time_to: Annotated[str | None, typer.Option("--to", help="RFC 3339, exclusive.")] = None,
    after: Annotated[int, typer.Option(help="Entries after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 100,
    fmt: Annotated[str, typer.Option("--format", help="table | jsonl | csv")] = "table",
    shape: Annotated[str, typer.Option(help="ldv (Logboek Dataverwerkingen) | nen7513")] = "ldv",
    data_dir: DataDir = None,
) -> None:
    """Query the access log (who saw what, when, why); entries hold pseudonyms only."""
    services = _services(data_dir)
    try:
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
            time_from=time_from,
            time_to=time_to,
            emergency=None if emergency is None else ("1" if emergency else "0"),
        )
    finally:
        services.close()
    if fmt == "jsonl":
        typer.echo(export_jsonl(entries, shape), nl=False)
    elif fmt == "csv":
        typer.echo(export_csv(entries, shape), nl=False)
    else:
        for e in entries:
            typer.echo(
                f"{e.seq:>7} {e.time} {e.actor:<18} {e.org:<16} {e.purpose:<20} "
                f"{e.case_id[:8]:<8} {e.subject[:8]:<8} {e.decision:<8} {e.reason}"
                + ("  EMERGENCY" if e.emergency else "")
            )


def audit_export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl | csv")] = "jsonl",
    shape: Annotated[str, typer.Option(help="ldv | nen7513")] = "ldv",
    output: Annotated[Path | None, typer.Option("--output", help="File (default stdout).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Export the whole access log (Logboek Dataverwerkingen or NEN 7513 field names)."""
    services = _services(data_dir)
    chunks = []
    try:
        after = 0
        while entries := services.access_log.entries(after=after, limit=10_000):
            chunks.append(
                export_jsonl(entries, shape) if fmt == "jsonl" else export_csv(entries, shape)
            )
            after = entries[-1].seq
    finally:
        services.close()
    text = "".join(chunks) if fmt == "jsonl" else _merge_csv(chunks)
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
    audit_app.command("query")(audit_query)
    audit_app.command("export")(audit_export)
    app.add_typer(retention_app, name="retention")
