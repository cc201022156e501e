"""Settings from the environment (and ``.env``): exactly the variables of SPEC.md."""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/stats.db"
_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(Exception):
    """A misconfigured environment variable; the message names it in one line."""


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
    # Not in SPEC's table: where Discord's API is. Unset means the real Discord; the
    # tests and the demo point it at the offline sandbox (http://127.0.0.1:PORT).
    DISCORD_API_URL: str | None = None

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if not v.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return v

    @field_validator("DATABASE_READ_URL", mode="before")
    @classmethod
    def _database_read_url(cls, v: object) -> object:
        if v == "" or v is None:
            return None
        if isinstance(v, str) and not v.startswith("postgresql+asyncpg://"):
            raise ValueError("must start with postgresql+asyncpg:// (a read replica of DATABASE_URL)")
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
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and name != "DISCORD_TOKEN" else ""
        raise SettingsError(f"{name}: {msg}{shown}") from None
