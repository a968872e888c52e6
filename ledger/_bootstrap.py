"""Opening a ledger on its stores (used by the composition root and by tests)."""

from __future__ import annotations

from ledger._application import CaseLedger
from ledger._command_data import PurposeRule
from ledger._pipeline import Clock, utcnow
from ledger._stores import StoreConfig, startup_lock


def open_ledger(
    config: StoreConfig, *, clock: Clock = utcnow, purposes: PurposeRule | None = None
) -> CaseLedger:
    """Create the data directory if missing and open the ledger application (its key
    provider, as ``config`` names it, creates a missing keyring file itself).

    ``purposes`` (the covenant) decides which purposes open which facts' bodies; without it a
    body opens only for the purpose it was recorded for.
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with startup_lock(config.database_url):
        return CaseLedger(config.application_env(), clock=clock, purposes=purposes)
