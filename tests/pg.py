"""PostgreSQL helpers for tests: the local server, throw-away schemas and databases."""

from __future__ import annotations

import subprocess

import psycopg

PG_HOST = "127.0.0.1"
PG_URL = f"postgresql://postgres@{PG_HOST}:5432/test"


def admin_execute(*statements: str, dbname: str = "test") -> None:
    with psycopg.connect(f"postgresql://postgres@{PG_HOST}:5432/{dbname}", autocommit=True) as c:
        for statement in statements:
            c.execute(statement)  # type: ignore[arg-type]


def create_schemas(*schemas: str) -> None:
    admin_execute(*(f"CREATE SCHEMA {s}" for s in schemas))


def drop_schemas(*schemas: str) -> None:
    admin_execute(*(f"DROP SCHEMA IF EXISTS {s} CASCADE" for s in schemas))


def pg_dump(*schemas: str, dbname: str = "test") -> bytes:
    """A plain-SQL dump of the given schemas (all data, as a backup would hold it)."""
    args = ["pg_dump", "-h", PG_HOST, "-U", "postgres", "--no-owner", dbname]
    for schema in schemas:
        args += ["-n", schema]
    return subprocess.run(args, check=True, capture_output=True).stdout


def restore(dump: bytes, dbname: str) -> None:
    subprocess.run(
        ["psql", "-q", "-h", PG_HOST, "-U", "postgres", "-v", "ON_ERROR_STOP=1", dbname],
        input=dump,
        check=True,
        capture_output=True,
    )
