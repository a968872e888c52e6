"""Settings: the one place that reads the process environment.

Everything below the API receives explicit values built from here (``StoreConfig``), never
``os.environ``. Token verification needs a key source: a JWKS file, an OIDC discovery URL,
or the local JWKS that ``caseledger init`` writes into the data directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from api._urls import UntrustedUrlError, require_trusted_url
from ledger import Pkcs11Config, StoreConfig

DEFAULT_DATA_DIR = Path("caseledger-data")
#: Asymmetric algorithms only: a shared-secret (HS*) or "none" token is never accepted.
SAFE_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES384", "RS256", "PS256"})
_SCHEMA = r"^[a-z][a-z0-9_]{0,62}$"
#: A claim name, or a dotted path into nested claims (``realm_access.roles`` for Keycloak).
_CLAIM = re.compile(r"^[\x21-\x2d\x2f-\x7e]{1,255}(\.[\x21-\x2d\x2f-\x7e]{1,255})*$")
_ENVIRONMENT = {
    "CASELEDGER_DATA_DIR": "data_dir",
    "CASELEDGER_DATABASE_URL": "database_url",
    "CASELEDGER_KEYSTORE_URL": "keystore_url",
    "CASELEDGER_COVENANT": "covenant_path",
    "CASELEDGER_JWKS_FILE": "jwks_file",
    "CASELEDGER_OIDC_DISCOVERY_URL": "oidc_discovery_url",
    "CASELEDGER_JWKS_REFRESH_SECONDS": "jwks_refresh_seconds",
    "CASELEDGER_TOKEN_ISSUER": "token_issuer",
    "CASELEDGER_TOKEN_AUDIENCE": "token_audience",
    "CASELEDGER_TOKEN_ALGORITHMS": "token_algorithms",
    "CASELEDGER_TOKEN_PARTNER_CLAIM": "token_partner_claim",
    "CASELEDGER_TOKEN_ROLES_CLAIM": "token_roles_claim",
}
_VARIABLES = {field: variable for variable, field in _ENVIRONMENT.items()}


class SettingsError(ValueError):
    """A setting failed validation. The message is one line, ``<setting>: <what is wrong>``,
    naming the environment variable when the value came from one; it never repeats the value
    (a URL may carry a password)."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


class Settings(BaseModel):
    """Service settings (from ``CASELEDGER_*`` environment variables or arguments)."""

    # Errors never show the input: it may hold a PIN or a database password.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    keystore_url: str | None = None
    covenant_path: Path | None = None
    fact_key_batch: int = Field(default=64, ge=1, le=10_000)
    # PostgreSQL schema names (tests use throw-away ones); None keeps the store defaults.
    events_schema: str | None = Field(default=None, pattern=_SCHEMA)
    keystore_schema: str | None = Field(default=None, pattern=_SCHEMA)
    views_schema: str | None = Field(default=None, pattern=_SCHEMA)
    audit_schema: str | None = Field(default=None, pattern=_SCHEMA)
    # Authentication: where the verification keys come from, and what a token must say.
    jwks_file: Path | None = None
    oidc_discovery_url: str | None = None
    # How long an issuer's JWKS is trusted before it is fetched again (a removed key stops
    # verifying within this time; an unknown kid refetches sooner, rate-limited).
    jwks_refresh_seconds: int = Field(default=300, ge=1, le=86_400)
    token_issuer: str = "caseledger-local"  # noqa: S105 - an issuer name, not a secret
    token_audience: str = "caseledger"  # noqa: S105 - an audience name, not a secret
    token_algorithms: tuple[str, ...] = ("EdDSA", "ES256", "RS256")
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Where the partner id and the roles are in the token (Keycloak, Entra ID, ADFS differ).
    token_partner_claim: str = "org"  # noqa: S105 - a claim name, not a secret
    token_roles_claim: str = "roles"  # noqa: S105 - a claim name, not a secret
    # Request hygiene.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_json_depth: int = Field(default=32, ge=2, le=256)
    # Concurrent POST facts on one case share a commit (see api/_writes.py).
    group_commit: bool = True
    # Where the partners' key-encryption keys live: the local keyring file, or a PKCS#11
    # token (module, token label, and the user PIN from a file or the environment).
    kek_provider: Literal["local", "pkcs11"] = "local"
    pkcs11_module: Path | None = None
    pkcs11_token_label: str | None = None
    pkcs11_pin_file: Path | None = None
    pkcs11_pin: SecretStr | None = None

    @field_validator("database_url", "keystore_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @field_validator("oidc_discovery_url")
    @classmethod
    def _https_discovery(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return require_trusted_url(value, setting="CASELEDGER_OIDC_DISCOVERY_URL")
        except UntrustedUrlError as error:
            raise ValueError(error.reason) from None

    @field_validator("token_partner_claim", "token_roles_claim")
    @classmethod
    def _claim_path(cls, value: str) -> str:
        if len(value) > 255 or not _CLAIM.match(value):
            raise ValueError("must be a claim name or a dotted path (visible ASCII, no empty part)")
        return value

    @field_validator("token_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unsafe = sorted(set(value) - SAFE_ALGORITHMS)
        if unsafe or not value:
            raise ValueError(f"allowed algorithms: {', '.join(sorted(SAFE_ALGORITHMS))}")
        return value

    @model_validator(mode="after")
    def _pkcs11_complete(self) -> Settings:
        if self.kek_provider == "pkcs11":
            if self.pkcs11_module is None or not self.pkcs11_token_label:
                raise ValueError("pkcs11 needs a module and a token label")
            if (self.pkcs11_pin_file is None) == (self.pkcs11_pin is None):
                raise ValueError("pkcs11 needs exactly one of a PIN file and a PIN")
        return self

    def _pkcs11_config(self) -> Pkcs11Config | None:
        if self.kek_provider != "pkcs11" or self.pkcs11_module is None:
            return None
        assert self.pkcs11_token_label is not None  # checked by _pkcs11_complete
        pin = self.pkcs11_pin.get_secret_value() if self.pkcs11_pin is not None else None
        return Pkcs11Config(self.pkcs11_module, self.pkcs11_token_label, self.pkcs11_pin_file, pin)

    @property
    def covenant_file(self) -> Path:
        return self.covenant_path or self.data_dir / "covenant.toml"

    @property
    def signing_key_file(self) -> Path:
        return self.data_dir / "token-signing-key.pem"

    @property
    def local_jwks_file(self) -> Path:
        """The public half of the local signing key, written by ``caseledger init``."""
        return self.data_dir / "token-jwks.json"

    def store_config(self) -> StoreConfig:
        default = StoreConfig(data_dir=self.data_dir)
        return StoreConfig(
            data_dir=self.data_dir,
            database_url=self.database_url,
            keystore_url=self.keystore_url,
            fact_key_batch=self.fact_key_batch,
            events_schema=self.events_schema,
            keystore_schema=self.keystore_schema or default.keystore_schema,
            views_schema=self.views_schema or default.views_schema,
            audit_schema=self.audit_schema or default.audit_schema,
            pkcs11=self._pkcs11_config(),
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Build settings from an environment mapping; explicit overrides win.

        A value that fails validation raises SettingsError naming its variable.
        """
        values: dict[str, object] = {}
        for variable, field in _ENVIRONMENT.items():
            if environ.get(variable):
                values[field] = environ[variable]
        if environ.get("CASELEDGER_TOKEN_ALGORITHMS"):  # a comma-separated list
            values["token_algorithms"] = tuple(
                a.strip() for a in environ["CASELEDGER_TOKEN_ALGORITHMS"].split(",") if a.strip()
            )
        values.update(_key_provider_values(environ))
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(given)
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise _settings_error(error, overridden=given.keys()) from None


def _settings_error(error: ValidationError, *, overridden: Iterable[str]) -> SettingsError:
    """The first failure as one line; pydantic's ``msg`` states the rule, not the input."""
    first = error.errors(include_url=False, include_input=False)[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    variables = {**_VARIABLES, **{f: v for v, f in _KEY_PROVIDER_VARIABLES.items()}}
    setting = field if field in overridden else variables.get(field, field)
    problem = str(first["msg"]).removeprefix("Value error, ")
    return SettingsError(setting, " ".join(problem.split()))


_KEY_PROVIDER_VARIABLES = {
    "CASELEDGER_KEK_PROVIDER": "kek_provider",
    "CASELEDGER_PKCS11_MODULE": "pkcs11_module",
    "CASELEDGER_PKCS11_TOKEN_LABEL": "pkcs11_token_label",
    "CASELEDGER_PKCS11_PIN_FILE": "pkcs11_pin_file",
    "CASELEDGER_PKCS11_PIN": "pkcs11_pin",
}


def _key_provider_values(environ: Mapping[str, str]) -> dict[str, object]:
    return {f: environ[v] for v, f in _KEY_PROVIDER_VARIABLES.items() if environ.get(v)}
