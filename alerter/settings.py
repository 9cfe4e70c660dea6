"""Settings from ``ALERTER_*`` environment variables (nested with ``__``) and a ``.env`` file.

Only the shell reads settings; the core is handed what it needs. Secrets are ``SecretStr`` so a
log line or a repr never shows them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerter.durations import parse_duration


class SalesforceSettings(BaseModel):
    """How to reach the org (used by the live source; ``preview --data`` needs none of it)."""

    instance_url: str | None = None
    domain: str = "login"
    login_url: str | None = None
    """Where logins for ``domain`` go instead of https://<domain>.salesforce.com (the sandbox)."""
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    private_key_file: Path | None = None
    session_id: SecretStr | None = None
    api_version: str = "60.0"
    ca_bundle: Path | None = None
    timeout: float = Field(30.0, gt=0)
    api_reserve: int = Field(5000, ge=0)
    owner_cache: float = Field(300.0, ge=0)
    """Seconds a User or queue read for routing is reused (a deadline wake-up then costs one
    query, not three); 0 reads them every time."""
    retry_attempts: int = Field(4, ge=1)
    retry_wait: float = Field(1.0, ge=0)
    """Back-off base in seconds: retry n waits a random time up to base x 2^n, at most 60 s."""


class SlackSettings(BaseModel):
    """The Slack workspace (a bot token with chat:write, users:read.email, im:write)."""

    token: SecretStr | None = None
    base_url: str = "https://slack.com/api/"
    fallback_channel: str | None = None
    """Where a notification goes when nobody else can be found for it (never silence)."""
    user_map_file: Path | None = None
    """YAML or JSON mapping Salesforce emails to Slack user ids, for reps whose emails differ."""
    queue_channels: dict[str, str] = Field(default_factory=dict)
    """Queue (Group) Id or DeveloperName -> Slack channel for queue-owned records."""
    lookup_ttl: float = Field(3600.0, gt=0)
    """Seconds a users.lookupByEmail answer is reused."""
    timeout: float = Field(30.0, gt=0)


class SmtpSettings(BaseModel):
    """The mail server for email notifications."""

    model_config = ConfigDict(populate_by_name=True)

    host: str | None = None
    port: int = Field(587, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    from_address: str = Field("alerter@localhost", alias="from")
    reply_to: str | None = None
    ca_bundle: Path | None = None
    timeout: float = Field(30.0, gt=0)


def _wall_duration(value: Any) -> Any:
    """``24h``, ``5m``, ``90s`` or a number of seconds: environment variables are strings."""
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        pass
    duration = parse_duration(value)
    if duration.business:
        raise ValueError("give wall-clock time here (24h, 5m), not business time")
    return duration.amount


WallDuration = Annotated[timedelta, BeforeValidator(_wall_duration)]


def _port_or_off(value: Any) -> Any:
    """``off`` (or an empty variable) turns a listener off."""
    if isinstance(value, str) and value.strip().lower() in ("", "off", "none"):
        return None
    return value


class OutboxSettings(BaseModel):
    """How hard the outbox tries before it gives a notification up as failed."""

    max_attempts: int = Field(8, ge=1)
    """Sends tried before a retryable failure becomes final."""
    max_age: WallDuration = Field(timedelta(hours=24), gt=timedelta(0))
    """A notification still unsent this long after it became due fails: late news is noise."""
    retry_base: float = Field(30.0, gt=0)
    """Back-off base in seconds: retry n waits between half and all of base x 2^(n-1)."""
    retry_max: float = Field(3600.0, gt=0)
    """The longest wait between two tries, in seconds."""
    stale_after: WallDuration = Field(timedelta(minutes=5), gt=timedelta(0))
    """A notification claimed this long ago and never marked was lost in a crash: re-queue it."""


class Settings(BaseSettings):
    """Every setting of the service; the README's table documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="ALERTER_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    rules_dir: Path = Path("rules")
    templates_dir: Path = Path("templates")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "console", "json"] = "auto"
    budget_per_hour: int = Field(10, ge=1)
    """At most this many messages an hour to one person or place; the excess is folded into
    one summary message per cycle."""
    salesforce: SalesforceSettings = SalesforceSettings()
    slack: SlackSettings = SlackSettings()
    smtp: SmtpSettings = SmtpSettings()
    state_url: str = "sqlite:///alerter.db"
    """The ledger database (may hold a password: log it through ``alerter.ledger.masked``)."""
    outbox: OutboxSettings = OutboxSettings()
    poll_interval: WallDuration = Field(timedelta(minutes=5), gt=timedelta(0))
    """How often every rule is polled in full (deadlines in between get wake-ups)."""
    health_host: str = "0.0.0.0"
    health_port: Annotated[int | None, BeforeValidator(_port_or_off)] = Field(9108, ge=0, lt=65536)
    """Where ``/healthz`` and ``/metrics`` are served: 0 takes any free port; ``off`` none."""
    health_max_age: WallDuration = Field(timedelta(minutes=15), gt=timedelta(0))
    """``/healthz`` answers 503 when no poll went through for this long (or since start)."""
