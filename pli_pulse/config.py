"""The one place PLI Pulse reads its configuration.

Settings come from, highest priority first: ``PLI_*`` environment variables, the TOML file
(``--config``, default ``pli-pulse.toml``), then the defaults below. The TOML file groups settings
in sections; ``[database] url`` is the same setting as ``PLI_DATABASE_URL``. Every setting is
validated at start so that a wrong value fails with the setting's name and a way to fix it,
not with a stack trace an hour into an ingest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "PLI_"
DEFAULT_CONFIG_FILE = Path("pli-pulse.toml")

#: TOML sections and the settings each one holds (the setting's name is ``section_key``).
SECTIONS: dict[str, tuple[str, ...]] = {
    "tenant": ("id",),
    "graph": ("base_url", "credentials", "client_id", "client_secret", "certificate_path", "authority", "ca_bundle"),
    "database": ("url",),
    "calendar": ("timezone", "term_start", "term_end", "holidays", "school_weekdays", "file"),
    "privacy": ("min_n", "pseudonym_key", "pseudonym_key_file", "retention_days"),
    "digest": ("schedule",),
    "bot": (
        "app_id",
        "app_password",
        "app_type",
        "app_tenant_id",
        "public_base_url",
        "dangerously_allow_unauthenticated_requests",
    ),
    "roster": ("file",),
    "measures": ("state_dir",),
    "logging": ("format", "level"),
}

#: How to fix each setting, shown with a validation error. Keep these written for a district IT admin.
HINTS: dict[str, str] = {
    "tenant_id": "Use the Directory (tenant) ID GUID from the Entra admin center, Overview page.",
    "graph_base_url": "Use https://graph.microsoft.com, or the simulated tenant's graph_base_url for a local demo.",
    "graph_credentials": "Choose one of: client_secret, certificate, managed_identity.",
    "graph_client_id": "Use the Application (client) ID GUID of the app registration.",
    "graph_client_secret": "Create a client secret under Certificates & secrets and set PLI_GRAPH_CLIENT_SECRET.",
    "graph_certificate_path": "Point to a PEM file holding the certificate and its private key.",
    "graph_ca_bundle": "Point to a PEM file of extra CA certificates (a TLS-inspecting proxy's, or the simulator's).",
    "database_url": "Use sqlite:///path/to/file.sqlite3 or postgresql+psycopg://user:pass@host/db.",
    "calendar_timezone": "Use an IANA time zone name such as America/Los_Angeles.",
    "calendar_term_start": "Use an ISO date such as 2026-08-17.",
    "calendar_term_end": "Use an ISO date on or after term_start.",
    "calendar_holidays": "List ISO dates, e.g. holidays = [2026-11-26, 2026-11-27].",
    "calendar_school_weekdays": "List ISO weekday numbers, 1 = Monday ... 7 = Sunday; the default is [1, 2, 3, 4, 5].",
    "privacy_min_n": "Use a whole number of at least 2; 10 is the usual state rule.",
    "privacy_retention_days": "Use a whole number of days, at least 1.",
    "digest_schedule": "Use a five-field cron expression in the district time zone, e.g. '0 7 * * MON'.",
    "bot_app_type": "Choose one of: MultiTenant, SingleTenant, UserAssignedMSI.",
    "bot_app_tenant_id": "SingleTenant bots need the tenant id of the bot's app registration.",
    "logging_format": "Choose text or json.",
    "logging_level": "Choose DEBUG, INFO, WARNING or ERROR.",
}


class ConfigError(Exception):
    """A configuration problem, already phrased for the person who has to fix it."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Configuration is not valid:\n" + "\n".join(f"  - {p}" for p in problems))


def setting_label(name: str) -> str:
    """Both spellings of a setting: the environment variable and the TOML key."""
    section, _, key = name.partition("_")
    if section in SECTIONS and key in SECTIONS[section]:
        return f"{ENV_PREFIX}{name.upper()} ([{section}] {key})"
    return f"{ENV_PREFIX}{name.upper()}"


class Settings(BaseSettings):
    """Every PLI Pulse setting. See ``pli-pulse.example.toml`` for the documented list."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False)

    tenant_id: str = ""

    graph_base_url: str = "https://graph.microsoft.com"
    graph_credentials: Literal["client_secret", "certificate", "managed_identity"] = "client_secret"
    graph_client_id: str = ""
    graph_client_secret: SecretStr | None = None
    graph_certificate_path: Path | None = None
    graph_authority: str = "https://login.microsoftonline.com"
    graph_ca_bundle: Path | None = None

    database_url: str = "sqlite:///var/pli-pulse.sqlite3"

    calendar_timezone: str = "America/Los_Angeles"
    calendar_term_start: date = date(2026, 8, 17)
    calendar_term_end: date = date(2026, 12, 18)
    calendar_holidays: list[date] = Field(default_factory=list)
    calendar_school_weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    calendar_file: Path | None = None

    privacy_min_n: int = Field(default=10, ge=2)
    privacy_pseudonym_key: SecretStr | None = None
    privacy_pseudonym_key_file: Path = Path("var/pseudonym.key")
    privacy_retention_days: int = Field(default=730, ge=1)

    digest_schedule: str = "0 7 * * MON"

    bot_app_id: str = ""
    bot_app_password: SecretStr | None = None
    bot_app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = "MultiTenant"
    bot_app_tenant_id: str = ""
    bot_public_base_url: str = "https://localhost:3978"
    #: Loud on purpose: only the local demo may run the bot without Bot Framework authentication.
    bot_dangerously_allow_unauthenticated_requests: bool = False

    roster_file: Path | None = None

    #: The measures' prepared term state (mode 0600: it holds pseudonymised keys). None: a ``measures`` folder
    #: beside a SQLite database file, so a store and its state stay together; ``var/measures`` otherwise.
    measures_state_dir: Path | None = None

    logging_format: Literal["text", "json"] = "text"
    logging_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file: an admin overrides one value without editing the file.
        return (env_settings, init_settings)

    @field_validator("graph_base_url", "graph_authority", "bot_public_base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError(f"must start with https:// (got {v!r})")
        return v.rstrip("/")

    @field_validator("calendar_timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{v!r} is not a known IANA time zone") from exc
        return v

    @field_validator("calendar_school_weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if not v or any(d < 1 or d > 7 for d in v):
            raise ValueError(f"must list weekday numbers between 1 and 7 (got {v})")
        return sorted(set(v))

    @field_validator("digest_schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not croniter.is_valid(v) or len(v.split()) != 5:
            raise ValueError(f"{v!r} is not a five-field cron expression")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql")):
            raise ValueError("only SQLite (sqlite:///...) and PostgreSQL (postgresql+psycopg://...) are supported")
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            v = "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = []
        if self.calendar_term_end < self.calendar_term_start:
            problems.append("calendar_term_end: must be on or after calendar_term_start")
        if self.bot_app_type == "SingleTenant" and self.bot_app_id and not self.bot_app_tenant_id:
            problems.append("bot_app_tenant_id: is required when bot_app_type is SingleTenant")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Convenience views used across the product.
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.calendar_timezone)

    @property
    def graph_v1_url(self) -> str:
        return f"{self.graph_base_url}/v1.0"

    def secret_values(self) -> list[str]:
        """Values that must never reach a log line or an error message."""
        out = []
        for s in (self.graph_client_secret, self.privacy_pseudonym_key, self.bot_app_password):
            if s is not None and s.get_secret_value():
                out.append(s.get_secret_value())
        return out

    def describe(self) -> list[tuple[str, str]]:
        """(setting, value) pairs for display, with secrets shown only as set or unset."""
        rows = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown = "(set)" if value.get_secret_value() else "(empty)"
            elif value is None:
                shown = "(unset)"
            elif name == "database_url":
                shown = redact_url_password(value)
            else:
                shown = str(value)
            rows.append((setting_label(name), shown))
        return rows


def redact_url_password(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{host}"


def flatten_toml(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Turn ``[section] key = v`` into ``section_key``; unknown keys are errors, not silently ignored."""
    flat: dict[str, Any] = {}
    problems = []
    for top, value in data.items():
        if isinstance(value, dict):
            allowed = SECTIONS.get(top)
            for key, v in value.items():
                if allowed is None or key not in allowed:
                    problems.append(
                        f"[{top}] {key} in {source}: is not a PLI Pulse setting (see pli-pulse.example.toml)"
                    )
                else:
                    flat[f"{top}_{key}"] = v
        else:
            problems.append(
                f"{top} in {source}: settings belong in a section such as [database] (see pli-pulse.example.toml)"
            )
    if problems:
        raise ConfigError(problems)
    return flat


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    source: str  # which file was read, or "defaults and environment"


def load_settings(path: Path | str | None = None) -> Settings:
    return load_config(path).settings


def load_config(path: Path | str | None = None) -> LoadedConfig:
    """Read and validate the configuration. A missing default file is fine; a missing named file is an error."""
    explicit = path is not None
    file = Path(path) if path is not None else DEFAULT_CONFIG_FILE
    data: dict[str, Any] = {}
    source = "defaults and environment"
    if file.exists():
        try:
            data = flatten_toml(tomllib.loads(file.read_text(encoding="utf-8")), str(file))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{file}: is not valid TOML ({exc}). Compare it with pli-pulse.example.toml."]) from None
        source = str(file)
    elif explicit:
        raise ConfigError([f"--config {file}: the file does not exist. Copy pli-pulse.example.toml to start one."])

    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    return LoadedConfig(settings, source)


def _explain(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        msg = err.get("msg", "is not valid").removeprefix("Value error, ")
        if not loc:  # model-level checks name their setting inside the message
            for part in msg.split("; "):
                name, _, what = part.partition(": ")
                problems.append(f"{setting_label(name)}: {what}. {HINTS.get(name, '')}".rstrip())
            continue
        name = loc[0]
        if err.get("type") == "extra_forbidden":
            problems.append(f"{name}: is not a PLI Pulse setting (see pli-pulse.example.toml)")
            continue
        problems.append(f"{setting_label(name)}: {msg}. {HINTS.get(name, '')}".rstrip())
    return problems
