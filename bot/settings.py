"""Settings from the environment (and ``.env``): the variables listed in README → Reference → Environment."""

from __future__ import annotations

import logging
import re
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/stats.db"
_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# Never echoed back in an error message, whatever their value.
_SECRETS = frozenset({"DISCORD_TOKEN", "DASHBOARD_SECRET", "DASHBOARD_OAUTH_CLIENT_SECRET"})


# The scheme every host hands out (Heroku, Render, Fly, RDS consoles); the bot speaks asyncpg.
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
# ``scheme://user:password@host``: the password is whatever lies between the first ':' after
# the scheme's '//' and the last '@' before the host (a password may itself hold '@' or ':').
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^\s]*)@(?=[^@\s]*(?:[/\s]|$))")


class SettingsError(Exception):
    """A misconfigured environment variable; the message names it in one line."""


def normalise_database_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as ``postgresql+asyncpg://``; other URLs unchanged."""
    stripped = url.strip()
    for scheme in _POSTGRES_SCHEMES:
        if stripped.startswith(scheme):
            return "postgresql+asyncpg://" + stripped[len(scheme) :]
    return stripped


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (for messages and logs)."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***@", text)


class Settings(BaseSettings):
    """The bot's configuration. Field names are the environment variable names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    DISCORD_TOKEN: SecretStr | None = None
    DATABASE_URL: str = DEFAULT_DATABASE_URL
    REDIS_URL: str | None = None
    FLUSH_INTERVAL_SECONDS: float = Field(default=10.0, gt=0, le=3600)
    SHARD_COUNT: int | None = Field(default=None, ge=1)
    SHARD_IDS: Annotated[list[int] | None, NoDecode] = None
    LOG_LEVEL: str = "INFO"
    METRICS_PORT: int | None = Field(default=None, ge=1, le=65535)
    LOG_FORMAT: str = "text"
    DATABASE_READ_URL: str | None = None
    REDIS_CLUSTER: bool = False
    DASHBOARD_PORT: int | None = Field(default=None, ge=1, le=65535)
    DASHBOARD_URL: str | None = None
    DASHBOARD_SECRET: SecretStr | None = None
    DASHBOARD_OAUTH_CLIENT_ID: str | None = None
    DASHBOARD_OAUTH_CLIENT_SECRET: SecretStr | None = None
    # Not in the contract's table: days after the bot was removed from a guild (not merely
    # unavailable) before every row of that guild is deleted; 0 keeps them forever.
    GUILD_PURGE_DAYS: int = Field(default=30, ge=0, le=36500)
    # Not in the contract's table: where Discord's API is. Unset means the real Discord; the
    # tests and the demo point it at the offline sandbox (http://127.0.0.1:PORT).
    DISCORD_API_URL: str | None = None
    # Not in the contract's table either: how long one login to Discord may take before it is
    # retried (three attempts in all, then the process exits with one line saying why).
    DISCORD_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0, le=600)

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str) -> str:
        v = normalise_database_url(v)
        if not v.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql://, postgres://, postgresql+asyncpg:// or sqlite+aiosqlite://")
        return v

    @field_validator("DATABASE_READ_URL", mode="before")
    @classmethod
    def _database_read_url(cls, v: object) -> object:
        if v == "" or v is None:
            return None
        if isinstance(v, str):
            v = normalise_database_url(v)
            if not v.startswith("postgresql+asyncpg://"):
                raise ValueError(
                    "must start with postgresql:// or postgresql+asyncpg:// (a read replica of DATABASE_URL)"
                )
        return v

    @field_validator("LOG_FORMAT")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v.lower() not in ("text", "json"):
            raise ValueError("must be text or json")
        return v.lower()

    @field_validator("DASHBOARD_URL", mode="before")
    @classmethod
    def _dashboard_url(cls, v: object) -> object:
        if v == "" or v is None:
            return None
        if isinstance(v, str) and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if isinstance(v, str) else v

    @field_validator("REDIS_URL", mode="before")
    @classmethod
    def _redis_url(cls, v: object) -> object:
        if v == "":
            return None
        if isinstance(v, str) and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @field_validator(
        "SHARD_COUNT",
        "METRICS_PORT",
        "DISCORD_API_URL",
        "DASHBOARD_PORT",
        "DASHBOARD_SECRET",
        "DASHBOARD_OAUTH_CLIENT_ID",
        "DASHBOARD_OAUTH_CLIENT_SECRET",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("SHARD_IDS", mode="before")
    @classmethod
    def _shard_ids(cls, v: object) -> object:
        if v is None or v == "":
            return None
        if isinstance(v, str):
            try:
                ids = [int(p) for p in v.replace(" ", "").split(",") if p]
            except ValueError:
                raise ValueError("must be a comma-separated list of shard numbers, like 0,1") from None
            if not ids or any(i < 0 for i in ids) or len(set(ids)) != len(ids):
                raise ValueError("must be distinct shard numbers from 0, like 0,1")
            return ids
        return v

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.upper() not in _LEVELS:
            raise ValueError(f"must be one of {', '.join(_LEVELS)}")
        return v.upper()

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        if self.SHARD_IDS is not None:
            if self.SHARD_COUNT is None:
                raise ValueError("SHARD_IDS needs SHARD_COUNT")
            if max(self.SHARD_IDS) >= self.SHARD_COUNT:
                raise ValueError(f"SHARD_IDS must be below SHARD_COUNT ({self.SHARD_COUNT})")
        return self

    @model_validator(mode="after")
    def _oauth_pair(self) -> Settings:
        if (self.DASHBOARD_OAUTH_CLIENT_ID is None) != (self.DASHBOARD_OAUTH_CLIENT_SECRET is None):
            raise ValueError(
                "DASHBOARD_OAUTH_CLIENT_ID and DASHBOARD_OAUTH_CLIENT_SECRET go together: set both or neither"
            )
        return self

    @model_validator(mode="after")
    def _scale_out(self) -> Settings:
        if self.REDIS_CLUSTER and not self.REDIS_URL:
            raise ValueError("REDIS_CLUSTER=true needs REDIS_URL (any node of the Redis Cluster)")
        if self.DATABASE_READ_URL and not self.DATABASE_URL.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_READ_URL needs DATABASE_URL on PostgreSQL (the replica's primary)")
        return self

    @property
    def dashboard_url(self) -> str:
        """The dashboard's public base URL (``DASHBOARD_URL``, else ``http://localhost:DASHBOARD_PORT``)."""
        return self.DASHBOARD_URL or f"http://localhost:{self.DASHBOARD_PORT or 8080}"

    @property
    def log_level(self) -> int:
        return int(getattr(logging, self.LOG_LEVEL))

    def token(self) -> str:
        """The bot token, or a SettingsError saying it is missing."""
        if self.DISCORD_TOKEN is None or not self.DISCORD_TOKEN.get_secret_value().strip():
            raise SettingsError("DISCORD_TOKEN is not set: `python -m bot run` needs the bot's token")
        return self.DISCORD_TOKEN.get_secret_value().strip()


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation error into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        if not name:  # a check across variables: the message names them
            raise SettingsError(msg) from None
        got = first.get("input")
        secret = name in _SECRETS
        shown = f" (got {redact(repr(got))})" if isinstance(got, str | int | float) and not secret else ""
        raise SettingsError(redact(f"{name}: {msg}{shown}")) from None
