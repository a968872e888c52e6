"""The `caseledger` command line: init, serve, token, keys, projections, the access log,
retention, and (mounted) covenant/policy tools.

``app`` holds every production command; the console script (``demo.cli``) adds ``demo`` on
top, since the demo sits above ``api`` in the layers.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from api._cli_support import Command, Group, progress_on_terminal, refuse
from api._tokens import create_local_signing_key
from api.bootstrap import Services, build_services
from api.cli_backup import backup_app
from api.cli_policy import covenant_app, policy_app
from api.cli_privacy import register as register_privacy_commands
from api.cli_server import SettingsErrorGroup, serve, token
from api.settings import Settings
from ledger import AccessLogError, Checkpoint, LedgerError, open_ledger
from policies import CovenantError, load_covenant


def caseledger_app() -> typer.Typer:
    """A `caseledger` root without commands: its help, and a settings error as one line."""
    return typer.Typer(
        name="caseledger",
        help="Caseledger: partner-owned, sealed case facts for care-and-safety partnerships.",
        no_args_is_help=True,
        add_completion=False,
        cls=SettingsErrorGroup,
    )


app = caseledger_app()
keys_app = typer.Typer(help="Key-encryption key management.", no_args_is_help=True, cls=Group)
projections_app = typer.Typer(help="Read-side projections.", no_args_is_help=True, cls=Group)
audit_app = typer.Typer(help="The tamper-evident access log.", no_args_is_help=True, cls=Group)
app.add_typer(keys_app, name="keys")
app.add_typer(projections_app, name="projections")
app.add_typer(audit_app, name="audit")
app.add_typer(covenant_app, name="covenant", help="Validate covenant files.")
app.add_typer(policy_app, name="policy", help="Explain and compare policy decisions.")
app.add_typer(backup_app, name="backup")
app.command(cls=Command)(serve)
app.command(cls=Command)(token)
register_privacy_commands(audit_app, app)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Data directory (default: $CASELEDGER_DATA_DIR or ./caseledger-data).",
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings.from_environ(os.environ, data_dir=data_dir)


@app.command(cls=Command)
def init(data_dir: DataDir = None) -> None:
    """Create a data directory: stores, keyring, sample covenant, local token key.

    Makes the event and key stores (SQLite files in the data dir unless
    $CASELEDGER_DATABASE_URL names PostgreSQL), the keyring, a covenant file (the sample
    partnership) and the local token signing key with its JWKS. Anything already there is
    kept, never overwritten.
    """
    settings = _settings(data_dir)
    ledger = open_ledger(settings.store_config())
    ledger.close()
    covenant = settings.covenant_file
    if not covenant.exists():
        sample = resources.files("policies").joinpath("sample_covenant.toml").read_text()
        covenant.write_text(sample, encoding="utf-8")
        typer.echo(f"wrote sample covenant {covenant}")
    if create_local_signing_key(settings):
        typer.echo(f"wrote token signing key {settings.signing_key_file} (and its JWKS)")
    typer.echo(f"data dir ready: {settings.data_dir}")


@keys_app.command("rotate", cls=Command)
def keys_rotate(
    partner: Annotated[
        list[str],
        typer.Option(
            "--partner", metavar="PARTNER", help="Partner id from the covenant (repeatable)."
        ),
    ],
    data_dir: DataDir = None,
) -> None:
    """Rotate partners' key-encryption keys: rewrap their scope keys, destroy old versions."""
    settings = _settings(data_dir)
    _require_declared(settings, partner)
    ledger = open_ledger(settings.store_config())
    try:
        report = ledger.rotate_keys(partner)
    except LedgerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        ledger.close()
    for owner, version in sorted(report.kek_rotations.items()):
        destroyed = report.kek_versions_destroyed.get(owner, [])
        typer.echo(f"{owner}: now v{version}, destroyed {destroyed or 'none'}")
    typer.echo(f"scope keys rewrapped: {report.scope_keys_rewrapped}")


def _require_declared(settings: Settings, partners: list[str]) -> None:
    """Refuse partners the covenant does not declare (their keys would join the keyring)."""
    try:
        covenant = load_covenant(settings.covenant_file)
    except CovenantError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    undeclared = sorted({p for p in partners if not covenant.is_partner(p)})
    if undeclared:
        refuse(f"--partner: not declared in the covenant: {', '.join(undeclared)}")


def _services(data_dir: Path | None) -> Services:
    try:
        return build_services(_settings(data_dir))
    except CovenantError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


@projections_app.command("rebuild", cls=Command)
def projections_rebuild(data_dir: DataDir = None) -> None:
    """Drop the projections and replay the whole notification log (batched; progress on a
    terminal)."""
    services = _services(data_dir)
    try:
        with progress_on_terminal("rebuilding") as progress:
            applied = services.runner.rebuild(progress)
        typer.echo(f"applied {applied} events; position {services.runner.position}")
    finally:
        services.close()


@audit_app.command("verify", cls=Command)
def audit_verify(
    witness: Annotated[
        Path | None,
        typer.Option("--witness", metavar="FILE", help="A checkpoint exported earlier."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Recompute the hash chain, check every signed checkpoint (and a witness)."""
    services = _services(data_dir)
    try:
        kept = Checkpoint.from_json(witness.read_text()) if witness else None
        report = services.access_log.verify(kept)
    except AccessLogError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    if report.ok:
        typer.echo(f"ok: {report.entries} entries, {report.checkpoints} checkpoints intact")
        return
    typer.echo(f"TAMPERED: first bad entry {report.first_bad_seq}: {report.problem}")
    raise typer.Exit(1)


@audit_app.command("checkpoint", cls=Command)
def audit_checkpoint(
    export: Annotated[
        Path | None,
        typer.Option("--export", metavar="FILE", help="Write the checkpoint here (a witness)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Sign the current head of the log; with --export, write it for a partner to keep."""
    services = _services(data_dir)
    try:
        checkpoint = services.access_log.checkpoint(now=services.clock())
    finally:
        services.close()
    if export is not None:
        export.write_text(checkpoint.to_json() + "\n", encoding="utf-8")
        typer.echo(f"checkpoint at entry {checkpoint.seq} written to {export}")
    else:
        typer.echo(checkpoint.to_json())


def main() -> None:
    app()
