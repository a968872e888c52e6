"""SoftHSM2 for tests: one token directory per test session, one fresh token per test.

SoftHSM reads its configuration (``SOFTHSM2_CONF``) when the module is initialised, once per
process, so the configuration is made once for the session and points at a temporary token
directory. Each test gets its own token there, made with ``softhsm2-util`` and logged into with
an invented PIN read from a PIN file. A test can take its token away (its directory moved out
of the token directory, as if the HSM were unplugged) and bring it back.

Without SoftHSM2 the tests that need it fail under CI (``CI`` set) and are skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ledger import StoreConfig
from ledger._pkcs11 import Pkcs11Config

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
USER_PIN = "246810"
SO_PIN = "13579111"


@dataclass(frozen=True)
class SoftHsm:
    """The session's SoftHSM2 configuration and token directory."""

    tokens: Path
    pins: Path

    def new_token(self) -> SoftHsmToken:
        label = f"t{uuid.uuid4().hex[:12]}"
        before = set(self.tokens.iterdir())
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                USER_PIN,
                "--so-pin",
                SO_PIN,
            ],
            check=True,
            capture_output=True,
        )
        (directory,) = set(self.tokens.iterdir()) - before
        pin_file = self.pins / label
        pin_file.write_text(USER_PIN + "\n", encoding="utf-8")
        pin_file.chmod(0o600)
        return SoftHsmToken(Pkcs11Config(MODULE, label, pin_file=pin_file), directory)


@dataclass(frozen=True)
class SoftHsmToken:
    """One token: the provider configuration for it, and where SoftHSM keeps it."""

    config: Pkcs11Config
    directory: Path

    @property
    def _away(self) -> Path:
        return self.directory.parent.parent / "away" / self.directory.name

    def take_away(self) -> None:
        """The token disappears (unplugged, its storage gone) while the service runs."""
        self._away.parent.mkdir(exist_ok=True)
        shutil.move(self.directory, self._away)

    def bring_back(self) -> None:
        shutil.move(self._away, self.directory)


def softhsm_available() -> str | None:
    """None if SoftHSM2 can be used here; otherwise why not."""
    if not MODULE.exists():
        return f"SoftHSM2 module {MODULE} is missing (scripts/ensure-softhsm.sh installs it)"
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util is missing (scripts/ensure-softhsm.sh installs it)"
    return None


def softhsm_session(tmp: Path) -> Iterator[SoftHsm]:
    """The body of the session fixture: a configuration file and token directory in ``tmp``."""
    missing = softhsm_available()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    softhsm, conf = make_softhsm(tmp)
    # SoftHSM has no other way to be told where its tokens are: set for the session only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        yield softhsm


def make_softhsm(tmp: Path) -> tuple[SoftHsm, Path]:
    """A SoftHSM2 configuration with an empty token directory in ``tmp``, and the
    configuration file's path (what ``SOFTHSM2_CONF`` must name before the module loads)."""
    tokens, pins = tmp / "tokens", tmp / "pins"
    tokens.mkdir()
    pins.mkdir()
    conf = tmp / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    return SoftHsm(tokens, pins), conf


def keyed(config: StoreConfig, provider: str, request: pytest.FixtureRequest) -> StoreConfig:
    """``config`` with its key-encryption keys where ``provider`` (the ``kek_provider``
    fixture) keeps them: a test module overrides ``store_config`` with this to run its key
    tests against both providers."""
    if provider == "local":
        return config
    token: SoftHsmToken = request.getfixturevalue("softhsm_token")
    return replace(config, pkcs11=token.config)
