"""Files of a backup: hashed, and put in place atomically (beside, fsynced, renamed)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ledger._errors import LedgerError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def copy_file(source: Path, target: Path) -> None:
    if not source.exists():
        raise LedgerError(f"{source.name} is missing")
    place(source, target)


def place(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically: beside it, fsynced, renamed, dir fsynced."""
    temporary = target.with_name(target.name + ".restoring")
    with source.open("rb") as src:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
    os.replace(temporary, target)
    fsync_dir(target.parent)


def write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(target.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, target)
    fsync_dir(target.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
