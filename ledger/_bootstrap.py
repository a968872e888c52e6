"""Opening a ledger on its stores (used by the composition root and by tests)."""

from __future__ import annotations

from ledger._application import CaseLedger, Clock, _utcnow
from ledger._keyring import LocalKeyring
from ledger._stores import StoreConfig, startup_lock


def open_ledger(config: StoreConfig, *, clock: Clock = _utcnow) -> CaseLedger:
    """Create missing local files (data dir, keyring) and open the ledger application."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    LocalKeyring.create(config.keyring_path)
    with startup_lock(config.database_url):
        return CaseLedger(config.application_env(), clock=clock)
