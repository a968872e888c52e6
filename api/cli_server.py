"""CLI for the HTTP service: ``caseledger serve`` and ``caseledger token``.

``serve`` checks the configuration in this process first (covenant, verification key), then
hands uvicorn the factory path, so every worker process builds its own app from the same
``CASELEDGER_*`` environment. ``token`` signs a token with the local key from ``init``.
``SettingsErrorGroup`` turns a bad setting, in any command, into one line and exit status 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from api._auth import ConfigurationError, key_source
from api._cli_support import Group
from api._tokens import SigningKeyError, issue_token
from api.settings import Settings, SettingsError
from policies import CovenantError, load_covenant

FACTORY = "api.app:create_app_from_env"
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Data directory (default: $CASELEDGER_DATA_DIR or ./caseledger-data).",
    ),
]


class SettingsErrorGroup(Group):
    """The root command group: a setting that fails validation, wherever a command loads the
    settings, is one line on stderr (``caseledger: <setting>: <what is wrong>``) and exit 2."""

    # Any: the supertype's Context lives in a private typer module (typer._click).
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            typer.echo(f"caseledger: {error}", err=True)
            raise typer.Exit(2) from None


def serve(
    host: Annotated[
        str, typer.Option(metavar="HOST", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(metavar="N", min=1, max=64, help="Worker processes.")] = 1,
    data_dir: DataDir = None,
) -> None:
    """Serve the HTTP API (uvicorn; JSON request logs on stderr)."""
    import uvicorn

    if data_dir is not None:
        # Worker processes build their settings from the environment, like this one.
        os.environ["CASELEDGER_DATA_DIR"] = str(data_dir)
    settings = Settings.from_environ(os.environ)
    try:
        load_covenant(settings.covenant_file)
        key_source(settings)
    except (CovenantError, ConfigurationError, OSError) as error:
        typer.echo(f"cannot start: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"serving on http://{host}:{port} ({workers} worker(s)); docs at /docs")
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # our own request log has no raw paths or query strings
        server_header=False,
        proxy_headers=False,
    )


def token(
    sub: Annotated[
        str, typer.Option("--sub", metavar="USER", help="User id (the token's subject).")
    ],
    org: Annotated[
        str, typer.Option("--org", metavar="PARTNER", help="Partner id from the covenant.")
    ],
    role: Annotated[list[str], typer.Option("--role", metavar="ROLE", help="Role (repeatable).")],
    ttl: Annotated[
        int, typer.Option("--ttl", metavar="SECONDS", min=1, max=86400, help="Lifetime.")
    ] = 3600,
    data_dir: DataDir = None,
) -> None:
    """Print a bearer token signed with the local key (the embedded identity provider)."""
    settings = Settings.from_environ(os.environ, data_dir=data_dir)
    try:
        covenant = load_covenant(settings.covenant_file)
    except CovenantError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    if not covenant.is_partner(org) or not all(covenant.may_hold_role(org, r) for r in role):
        typer.echo("refused: the covenant does not let that partner hold that role", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(issue_token(settings, sub=sub, org=org, roles=role, ttl_seconds=ttl))
    except SigningKeyError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
