"""Settings: the one place that reads the process environment.

Everything below the API receives explicit values built from here (``StoreConfig``), never
``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger import StoreConfig

DEFAULT_DATA_DIR = Path("caseledger-data")


class Settings(BaseModel):
    """Service settings (from ``CASELEDGER_*`` environment variables or arguments)."""

    model_config = ConfigDict(frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    keystore_url: str | None = None
    covenant_path: Path | None = None
    fact_key_batch: int = Field(default=64, ge=1, le=10_000)

    @field_validator("database_url", "keystore_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @property
    def covenant_file(self) -> Path:
        return self.covenant_path or self.data_dir / "covenant.toml"

    @property
    def signing_key_file(self) -> Path:
        return self.data_dir / "token-signing-key.pem"

    def store_config(self) -> StoreConfig:
        return StoreConfig(
            data_dir=self.data_dir,
            database_url=self.database_url,
            keystore_url=self.keystore_url,
            fact_key_batch=self.fact_key_batch,
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Build settings from an environment mapping; explicit overrides win."""
        values: dict[str, object] = {}
        names = {
            "CASELEDGER_DATA_DIR": "data_dir",
            "CASELEDGER_DATABASE_URL": "database_url",
            "CASELEDGER_KEYSTORE_URL": "keystore_url",
            "CASELEDGER_COVENANT": "covenant_path",
        }
        for variable, field in names.items():
            if environ.get(variable):
                values[field] = environ[variable]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
