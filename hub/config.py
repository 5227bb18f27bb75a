"""Hub settings: defaults -> TOML file -> ``DESKPULSE_*`` environment -> explicit overrides.

Settings are only ever built inside functions (``HubSettings.from_toml(path)`` in the CLI,
``HubSettings(...)`` in tests and the demo), never at import time, so importing the hub
never reads the environment or touches the disk. Invalid values raise :class:`ConfigError`
with one line saying which setting and how to fix it.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import secrets
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from platformdirs import user_data_path
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edge.placeholders import is_placeholder  # one list with edge.toml's
from edge.private_files import private_dir
from hub.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_FILE = "secret.key"  # noqa: S105 (a file name, not a secret)
MIN_SECRET_LENGTH = 16
MIN_PRIVACY_K = 3  # PRIVACY.md item 8: k is never below 3
_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")  # worker names and shared-subscription groups
_PATH_FIELDS = ("data_dir", "database", "mqtt_ca_file")
# The TOML values of the settings being built right now (see from_toml): a context variable
# because pydantic-settings asks for sources on the class, not on the call.
_TOML_VALUES: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "deskpulse_toml_values", default=None
)


class _TomlValues(PydanticBaseSettingsSource):
    """The settings source for the TOML file read by :meth:`HubSettings.from_toml`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        values = _TOML_VALUES.get() or {}
        return values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_VALUES.get() or {})


def _default_data_dir() -> Path:
    return user_data_path("deskpulse")


class HubSettings(BaseSettings):
    """Everything the hub process needs; see docs/operations.md for each setting."""

    model_config = SettingsConfigDict(env_prefix="DESKPULSE_", extra="forbid")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database: Path | None = None
    # The store (docs/scale.md, "PostgreSQL store"): postgresql://user@host/db lets several
    # hub workers share one database; sqlite:///path is a file. None = the file `database`.
    database_url: str | None = Field(default=None, repr=False)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: str | None = Field(default=None, repr=False)
    mqtt_tls: bool = False  # TLS to the broker (agents' listener 8883; see docs/security.md)
    mqtt_ca_file: Path | None = None  # the private CA (deploy/mosquitto); None = system CAs
    # Instead of mqtt_host/port/tls: one URL, mqtt://host[:1883] or mqtts://host[:8883].
    mqtt_url: str | None = None
    # Several ingest workers (docs/scale.md): the MQTT shared-subscription group ("" = off)
    # and this worker's name; the name picks the MQTT client id, i.e. the broker session.
    mqtt_shared_group: str = ""
    worker_name: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    bin_seconds: int = 900
    secret_key: str | None = Field(default=None, repr=False)
    ingest_batch_max: int = Field(default=500, ge=1, le=100_000)
    ingest_batch_wait: float = Field(default=0.05, ge=0.0, le=10.0)
    rollup_interval: float = Field(default=5.0, gt=0.0, le=3600.0)
    heartbeat_timeout: float = Field(default=180.0, gt=0.0)
    # Clock sanity (docs/protocol.md "Clocks"): an agent whose health shows its clock off by
    # more than this has its desk event times corrected by the offset, or rejected.
    max_clock_skew_seconds: float = Field(default=120.0, gt=0.0)
    clock_skew_action: Literal["correct", "reject"] = "correct"
    # Event horizon (docs/security.md, "Cost of one message"): an edge message with a time
    # stamp older than this is dead-lettered, and rollups are never recomputed further
    # back. Keep it above every agent's outbox max_age_days (edge.toml, default 7).
    event_horizon_days: float = Field(default=14.0, ge=1.0, le=366.0)
    # Check-in (docs/checkin.md): auto check-out after this long vacant; label URL base.
    checkout_after_vacant_seconds: float = Field(default=1200.0, gt=0.0)
    public_url: str | None = None
    # Company policy: may people opt in to be findable while checked in? (PRIVACY.md 6)
    colleague_visibility: bool = False
    privacy_k: int = 5  # counts below k are shown as "< k" (PRIVACY.md item 8)
    # Retention in days (PRIVACY.md 12; hub/privacy/retention.py), checked every interval s.
    retention_checkins_days: float = Field(default=90.0, gt=0.0)
    retention_transitions_days: float = Field(default=30.0, gt=0.0)
    # Dedup keys (agent, boot, seq): a message redelivered later than this would be stored
    # again. Keep it above every agent's outbox max_age_days (edge.toml, default 7).
    retention_messages_days: float = Field(default=30.0, gt=0.0)
    retention_dead_letters_days: float = Field(default=30.0, gt=0.0)
    retention_audit_days: float = Field(default=365.0, gt=0.0)
    retention_interval: float = Field(default=3600.0, gt=0.0, le=86400.0)
    # HTTP hardening (docs/security.md): believe X-Forwarded-Proto only behind your own
    # TLS proxy; request bodies above max_body_bytes get 413; check-ins per person/minute.
    trust_proxy: bool = False
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=1024**3)
    # Floor-plan uploads (PNG/SVG; docs/dashboard.md), also capped by max_body_bytes.
    floor_plan_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=1024**3)
    checkin_rate_per_minute: int = Field(default=30, ge=1, le=10_000)
    # Invitation e-mails (hub/auth/mailer.py, docs/checkin.md "Invitations"): no smtp_host = no
    # e-mail; invitations are then handed out as a printed list or CSV. The password is
    # best given as DESKPULSE_SMTP_PASSWORD.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_from: str = "deskpulse@localhost"
    smtp_timeout: float = Field(default=10.0, gt=0.0, le=120.0)

    @property
    def event_horizon_seconds(self) -> float:
        return self.event_horizon_days * 86400.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: overrides, then environment, then the TOML file.
        return (init_settings, env_settings, _TomlValues(settings_cls))

    @field_validator("bin_seconds")
    @classmethod
    def _check_bin_seconds(cls, value: int) -> int:
        if not 60 <= value <= 3600 or 3600 % value:
            raise ConfigError(
                f"bin_seconds must be between 60 and 3600 and divide 3600 (got {value}); "
                "use e.g. 300, 900 or 3600"
            )
        return value

    @field_validator("privacy_k")
    @classmethod
    def _check_privacy_k(cls, value: int) -> int:
        if value < MIN_PRIVACY_K:
            raise ConfigError(
                f"privacy_k must be at least {MIN_PRIVACY_K} (got {value}): smaller groups "
                "could single out a person; the default is 5"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if is_placeholder(value):
            raise ConfigError(
                "secret_key is a placeholder; remove it to have one generated in "
                f"data_dir/{SECRET_FILE}, or set a random value of at least "
                f"{MIN_SECRET_LENGTH} characters"
            )
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"secret_key is shorter than {MIN_SECRET_LENGTH} characters; remove it to "
                f"have one generated in data_dir/{SECRET_FILE}"
            )
        return value

    @field_validator("mqtt_password")
    @classmethod
    def _check_mqtt_password(cls, value: str | None) -> str | None:
        if value is not None and is_placeholder(value):
            raise ConfigError(
                "mqtt_password is a placeholder; set the password printed by "
                "`deskpulse hub agents hub-account` (as DESKPULSE_MQTT_PASSWORD)"
            )
        return value

    @field_validator("mqtt_shared_group", "worker_name")
    @classmethod
    def _check_name(cls, value: str, info: ValidationInfo) -> str:
        if value and not _NAME.fullmatch(value):
            raise ConfigError(
                f"{info.field_name} must be 1-40 letters, digits, '-' or '_' (got {value!r})"
            )
        return value

    @model_validator(mode="after")
    def _apply_mqtt_url(self) -> HubSettings:
        if self.mqtt_url is None:
            return self
        clash = {"mqtt_host", "mqtt_port", "mqtt_tls"} & self.model_fields_set
        if clash:
            raise ConfigError(
                f"give either mqtt_url or {', '.join(sorted(clash))}, not both"
            )
        self.mqtt_host, self.mqtt_port, self.mqtt_tls = parse_mqtt_url(self.mqtt_url)
        return self

    @model_validator(mode="after")
    def _check_database_url(self) -> HubSettings:
        url = self.database_url
        if url is None:
            return self
        if not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ConfigError("database_url must start with postgresql:// or sqlite:/// "
                              f"(got {url.split('://')[0]!r})")
        if "database" in self.model_fields_set:
            raise ConfigError("give either database_url or database, not both")
        return self

    @model_validator(mode="after")
    def _fill_paths(self) -> HubSettings:
        self.data_dir = self.data_dir.expanduser()
        self.database = (self.database or self.data_dir / "deskpulse.db").expanduser()
        return self

    @property
    def database_path(self) -> Path:
        """The SQLite file (``database``, by default ``data_dir/deskpulse.db``)."""
        return self.database or self.data_dir / "deskpulse.db"

    @property
    def store_url(self) -> str:
        """What :func:`hub.db.engines.open_store` opens: ``database_url`` or the file."""
        return self.database_url or str(self.database_path)

    @property
    def mqtt_client_id(self) -> str:
        """``deskpulse-hub`` (the single hub), or ``deskpulse-hub-<worker_name>``: one
        persistent broker session per worker."""
        return f"deskpulse-hub-{self.worker_name}" if self.worker_name else "deskpulse-hub"

    @property
    def secret_file(self) -> Path:
        return self.data_dir / SECRET_FILE

    def ensure_data_dir(self) -> Path:
        """Create the data directory (owner-only) if it does not exist yet."""
        return private_dir(self.data_dir)

    def ensure_secret_key(self) -> str:
        """The configured secret, else the one in ``data_dir/secret.key``, generated once.

        The file is created with mode 0600 before the secret is written, so it is never
        readable by others, not even briefly.
        """
        if self.secret_key is not None:
            return self.secret_key
        path = self.secret_file
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                log.warning("%s was readable by others (mode %o); setting 0600", path, mode)
                path.chmod(0o600)
            value = path.read_text().strip()
            if len(value) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"{path} holds no usable secret; delete it to have a new one generated"
                )
            return value
        self.ensure_data_dir()
        value = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        log.info("generated a new hub secret key in %s", path)
        return value

    @classmethod
    def from_toml(cls, path: Path | None, **overrides: Any) -> HubSettings:
        """Settings from a TOML file (optional), the environment and explicit overrides.

        Keys are the setting names at the top level (or in a ``[hub]`` table); relative
        paths in the file are relative to the file. Unknown keys are refused.
        """
        values: dict[str, Any] = {}
        if path is not None:
            values = _read_toml(Path(path))
        token = _TOML_VALUES.set(values)
        try:
            return cls(**overrides)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, path)) from None
        finally:
            _TOML_VALUES.reset(token)


def parse_mqtt_url(url: str) -> tuple[str, int, bool]:
    """``(host, port, tls)`` of ``mqtt://host[:port]`` or ``mqtts://host[:port]``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"mqtt_url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"mqtt_url must look like mqtts://broker.example:8883 (got {url!r})")
    if parts.username or parts.password:
        raise ConfigError("mqtt_url must not hold credentials; use mqtt_username and "
                          "DESKPULSE_MQTT_PASSWORD")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"mqtt_url has a path or query the broker would ignore: {url!r}")
    tls = parts.scheme == "mqtts"
    return parts.hostname, port or (8883 if tls else 1883), tls


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if isinstance(data.get("hub"), dict):
        data = {**{k: v for k, v in data.items() if k != "hub"}, **data["hub"]}
    for key in _PATH_FIELDS:
        if isinstance(data.get(key), str):
            value = Path(data[key]).expanduser()
            data[key] = value if value.is_absolute() else path.parent / value
    return data


def _describe(exc: ValidationError, path: Path | None) -> str:
    where = f" in {path}" if path is not None else ""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        message = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{name}: {message}")
    return f"invalid hub settings{where}: " + "; ".join(problems)
