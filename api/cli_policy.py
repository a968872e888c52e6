"""CLI for the covenant and the policy engine, mounted as ``caseledger covenant`` / ``policy``.

``covenant check FILE`` validates a covenant; ``policy explain`` answers "may this reader see
this fact, and why (not)?" for one invented fact; ``policy diff OLD NEW`` summarises what a
covenant change changes: its sections, and the read decisions it flips. Errors are printed
as the covenant error lines, exit 1, never a traceback. This module reads the clock
(``explain`` decides "now"); policies do not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from api._cli_support import Command, Group
from policies import (
    CaseId,
    CaseState,
    CaseStatus,
    ChangeKind,
    ConsentId,
    ConsentState,
    Covenant,
    CovenantError,
    Director,
    FactId,
    FactMetadata,
    Participation,
    PartnerId,
    PolicyError,
    Principal,
    PurposeId,
    RoleId,
    Sharing,
    SharingLevel,
    SubjectId,
    UserId,
    compare_covenants,
    decide_fact_read,
    emergency_rules_for,
    emergency_window,
    explain,
    load_covenant,
)

covenant_app = typer.Typer(no_args_is_help=True, add_completion=False, cls=Group)
policy_app = typer.Typer(no_args_is_help=True, add_completion=False, cls=Group)

_OFFICE = PartnerId("zvh")
_SUBJECT = SubjectId("cli_subject")


@covenant_app.callback()
def _covenant() -> None:
    """Validate the partnership's covenant file."""


@policy_app.callback()
def _policy() -> None:
    """Explain and compare policy decisions."""


def _load(path: Path) -> Covenant:
    try:
        return load_covenant(path)
    except CovenantError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


@covenant_app.command("check", cls=Command)
def check(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Covenant TOML file.")],
) -> None:
    """Validate FILE: print a summary, or every problem (exit 1).

    The summary's second line is the reference that write events and access-log entries
    record for this covenant (``<version>:<content hash>``).
    """
    covenant = _load(file)
    typer.echo(
        f"ok: {covenant.name} v{covenant.version}, "
        f"{len(covenant.partners)} partners, {len(covenant.purposes)} purposes"
    )
    typer.echo(f"recorded as: {covenant.reference}")


@policy_app.command("explain", cls=Command)
def explain_command(
    covenant_file: Annotated[
        Path, typer.Option("--covenant", metavar="FILE", help="Covenant TOML file.")
    ],
    roles: Annotated[
        list[str], typer.Option("--role", metavar="ROLE", help="Reader's role (repeatable).")
    ],
    partner: Annotated[str, typer.Option(metavar="PARTNER", help="Reader's partner id.")],
    purpose: Annotated[str, typer.Option(metavar="PURPOSE", help="Declared purpose of the read.")],
    owner: Annotated[
        str | None, typer.Option(metavar="PARTNER", help="Owner partner (default: another).")
    ] = None,
    kind: Annotated[str, typer.Option(metavar="KIND", help="Fact kind.")] = "observation",
    categories: Annotated[
        list[str] | None,
        typer.Option("--category", metavar="CATEGORY", help="Data category (repeatable)."),
    ] = None,
    sharing: Annotated[SharingLevel, typer.Option(help="Sharing level.")] = (
        SharingLevel.participants
    ),
    share_with: Annotated[
        list[str] | None,
        typer.Option(metavar="PARTNER", help="Named partner for sharing=partners (repeatable)."),
    ] = None,
    legal_basis: Annotated[
        str | None, typer.Option(metavar="BASIS", help="Legal basis (default: wgs).")
    ] = None,
    fact_purpose: Annotated[
        str | None,
        typer.Option(
            metavar="PURPOSE", help="Purpose the fact was recorded for (default: --purpose)."
        ),
    ] = None,
    participant: Annotated[
        bool, typer.Option(help="Is the reader's partner an active participant?")
    ] = True,
    named_casusregisseur: Annotated[
        bool,
        typer.Option(help="Does the case name the reader as its casusregisseur (regie reads)?"),
    ] = False,
    case_status: Annotated[CaseStatus, typer.Option(help="Case status.")] = CaseStatus.active,
    consent: Annotated[
        bool, typer.Option(help="Is a consent covering this read in force?")
    ] = False,
    emergency_reason: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Break the glass with this reason.")
    ] = None,
) -> None:
    """Decide one invented fact read now, and print the decision with its reason."""
    covenant = _load(covenant_file)
    now = datetime.now(UTC)
    reader = PartnerId(partner)
    fact_owner = PartnerId(owner) if owner else _other_partner(covenant, reader)
    try:
        fact = FactMetadata(
            fact_id=FactId("cli_fact"),
            case_id=CaseId("cli_case"),
            owner=fact_owner,
            kind=kind,
            categories=frozenset(categories or ()),
            subjects=frozenset({_SUBJECT}),
            purpose=PurposeId(fact_purpose or purpose),
            legal_basis=legal_basis or _default_basis(covenant),
            sharing=Sharing(sharing, frozenset(PartnerId(p) for p in share_with or ())),
            recorded_at=now - timedelta(days=1),
        )
    except PolicyError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    members = {_OFFICE, fact_owner} | ({reader} if participant else set())
    case = _case(case_status, fact.purpose, members, now)
    if consent:
        case = _with_consent(case, fact, purpose, reader, now)
    emergency = None
    if emergency_reason is not None:
        emergency = emergency_window(covenant, emergency_reason, now)
    principal = Principal(UserId("cli_user"), reader, frozenset(RoleId(r) for r in roles))
    if named_casusregisseur:
        case = replace(case, casusregisseur=Director(principal.user, reader, now))
    decision = decide_fact_read(covenant, principal, purpose, emergency, fact, case, now)
    typer.echo(explain(decision))
    typer.echo(f"basis: {decision.basis}")
    if emergency is not None:
        rules = [rule.id for rule in emergency_rules_for(covenant, principal)]
        typer.echo(f"emergency rules admitting the reader: {', '.join(rules) or 'none'}")


@policy_app.command("diff", cls=Command)
def diff(
    old: Annotated[Path, typer.Argument(metavar="OLD", help="Covenant in force.")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="Proposed covenant.")],
    full: Annotated[
        bool, typer.Option("--full", help="Also list every change and every changed decision.")
    ] = False,
) -> None:
    """Compare two covenants: every section, then the read decisions that change.

    Prints a summary first (changes per section, the changed decisions grouped by direction
    and reason); --full adds every change and every changed decision.
    """
    before, after = _load(old), _load(new)
    changes = compare_covenants(before, after)
    if changes.is_empty:
        typer.echo("no changes")
        return
    typer.echo(f"{before.name} v{before.version} -> {after.name} v{after.version}")
    typer.echo("sections:")
    for section, counts in changes.section_counts().items():
        typer.echo(f"  {section:<12} {_counted(counts)}")
    typer.echo(f"changed decisions: {len(changes.decisions)}")
    for group in changes.decision_groups():
        typer.echo(f"  {group.describe()}")
    if not full:
        typer.echo("(--full lists every change)")
        return
    typer.echo("changes:")
    for change in changes.sections:
        typer.echo(f"  {change.describe()}")
    typer.echo("decisions:")
    for decision in changes.decisions:
        typer.echo(f"  {decision.describe()}")


def _counted(counts: Counter[ChangeKind]) -> str:
    if not counts:
        return "unchanged"
    return ", ".join(f"{counts[kind]} {kind}" for kind in ChangeKind if counts[kind])


def _other_partner(covenant: Covenant, reader: PartnerId) -> PartnerId:
    others = [p for p in covenant.partner_ids() if p not in (reader, _OFFICE)]
    return others[0] if others else _OFFICE


def _default_basis(covenant: Covenant) -> str:
    bases = covenant.legal_basis_ids()
    return "wgs" if "wgs" in bases else bases[0]


def _case(
    status: CaseStatus, purpose: PurposeId, members: set[PartnerId], now: datetime
) -> CaseState:
    decided = None if status is CaseStatus.triage else now - timedelta(days=2)
    return CaseState(
        case_id=CaseId("cli_case"),
        status=status,
        purpose=purpose,
        opened_at=now - timedelta(days=3),
        decided_at=decided,
        closed_at=now - timedelta(hours=1) if status is CaseStatus.closed else None,
        participants={p: Participation(p, now - timedelta(days=2)) for p in members},
        erased_at=now - timedelta(hours=1) if status is CaseStatus.erased else None,
    )


def _with_consent(
    case: CaseState, fact: FactMetadata, purpose: str, reader: PartnerId, now: datetime
) -> CaseState:
    consent = ConsentState(
        consent_id=ConsentId("cli_consent"),
        subject=_SUBJECT,
        purpose=PurposeId(purpose),
        categories=fact.categories,
        recipients=frozenset({reader}),
        given_at=now - timedelta(days=2),
    )
    return replace(case, consents=(consent,))
