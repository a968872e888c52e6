"""The ``caseledger`` console script: every command of ``api.cli``, and ``demo``.

``api.cli`` is the production command line and may not import the demo (the layers), so
the demo command is added here, one layer up, where the console script enters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import Command
from api.cli import app as production_app
from api.cli import caseledger_app
from demo._run import run_demo

app = caseledger_app()
app.add_typer(production_app, name=None)  # name None: its commands and groups join the root


@app.command(cls=Command)
def demo(
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir",
            metavar="DIR",
            help="Directory for the demo's stores: a new one, or an earlier demo's (replaced).",
        ),
    ] = Path("caseledger-demo"),
) -> None:
    """Play scenarios SC1-SC5 over HTTP against a server it starts; show what each role saw.

    Starts a server on a loopback port over a fresh data dir, plays the docs/domain.md scenarios
    SC1-SC5 and a case conference (two cases on one agenda) as the partners' users, prints for
    each role what it saw and what it was refused, and ends with a scan of the data dir showing
    no plaintext on disk.
    """
    raise typer.Exit(run_demo(data_dir, typer.echo))


def main() -> None:
    app()
