"""The `caseledger` command line: init, demo, keys, and (mounted) covenant/policy tools."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from api.demo import run_demo
from api.settings import Settings
from ledger import LedgerError, open_ledger

app = typer.Typer(
    name="caseledger",
    help="Caseledger: partner-owned, sealed case facts for care-and-safety partnerships.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Key-encryption key management.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (default: $CASELEDGER_DATA_DIR or ./caseledger-data)."
    ),
]


def _settings(data_dir: Path | None) -> Settings:
    return Settings.from_environ(os.environ, data_dir=data_dir)


@app.command()
def init(data_dir: DataDir = None) -> None:
    """Create the data directory, the keyring and a sample covenant (never overwrites)."""
    settings = _settings(data_dir)
    ledger = open_ledger(settings.store_config())
    ledger.close()
    covenant = settings.covenant_file
    if not covenant.exists():
        sample = resources.files("policies").joinpath("sample_covenant.toml").read_text()
        covenant.write_text(sample, encoding="utf-8")
        typer.echo(f"wrote sample covenant {covenant}")
    typer.echo(f"data dir ready: {settings.data_dir}")


@app.command()
def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Fresh directory for the demo's stores.")
    ] = Path("caseledger-demo"),
) -> None:
    """Record scenario SC1 and show what owners read back and what the disk holds."""
    raise typer.Exit(run_demo(data_dir, typer.echo))


@keys_app.command("rotate")
def keys_rotate(
    partner: Annotated[list[str], typer.Option("--partner", help="Partner id (repeatable).")],
    data_dir: DataDir = None,
) -> None:
    """Rotate partners' key-encryption keys: rewrap their scope keys, destroy old versions."""
    settings = _settings(data_dir)
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


def main() -> None:
    app()
