"""Settings: exactly the contract's variables, and one clear line for a bad value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings, redact

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "DISCORD_TOKEN",
        "DATABASE_URL",
        "REDIS_URL",
        "FLUSH_INTERVAL_SECONDS",
        "SHARD_COUNT",
        "SHARD_IDS",
        "LOG_LEVEL",
        "METRICS_PORT",
        "DISCORD_API_URL",
        "DATABASE_READ_URL",
        "LOG_FORMAT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_match_the_spec() -> None:
    s = load_settings()
    assert s.DATABASE_URL == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./data/stats.db"
    assert s.REDIS_URL is None
    assert s.FLUSH_INTERVAL_SECONDS == 10
    assert s.SHARD_COUNT is None and s.SHARD_IDS is None
    assert s.LOG_LEVEL == "INFO"
    assert s.METRICS_PORT is None


def test_shards_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARD_COUNT", "4")
    monkeypatch.setenv("SHARD_IDS", "0, 2")
    s = load_settings()
    assert s.SHARD_COUNT == 4 and s.SHARD_IDS == [0, 2]


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REDIS_URL=redis://example:6379/1\nLOG_LEVEL=debug\n")
    s = load_settings()
    assert s.REDIS_URL == "redis://example:6379/1" and s.LOG_LEVEL == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("FLUSH_INTERVAL_SECONDS", "abc", "FLUSH_INTERVAL_SECONDS"),
        ("FLUSH_INTERVAL_SECONDS", "0", "greater than 0"),
        ("DATABASE_URL", "mysql://x", "postgresql+asyncpg://"),
        ("REDIS_URL", "http://x", "redis://"),
        ("SHARD_COUNT", "0", "SHARD_COUNT"),
        ("SHARD_IDS", "a,b", "comma-separated"),
        ("SHARD_IDS", "0,1", "SHARD_IDS needs SHARD_COUNT"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL"),
        ("METRICS_PORT", "70000", "METRICS_PORT"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert said in str(err.value)
    assert "\n" not in str(err.value)


def test_shard_ids_must_fit_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARD_COUNT", "2")
    monkeypatch.setenv("SHARD_IDS", "0,2")
    with pytest.raises(SettingsError, match="below SHARD_COUNT"):
        load_settings()


def test_run_without_token_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "configuration error: DISCORD_TOKEN is not set: `python -m bot run` needs the bot's token"
    )


def test_token_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token")
    s = load_settings()
    assert "secret-token" not in repr(s)
    assert s.token() == "secret-token"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db:5432/stats", "postgresql+asyncpg://u:p@db:5432/stats"),
        ("postgresql://u:p@db/stats", "postgresql+asyncpg://u:p@db/stats"),
        ("postgresql+asyncpg://u:p@db/stats", "postgresql+asyncpg://u:p@db/stats"),
        ("sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_the_urls_hosts_hand_out_are_accepted(monkeypatch: pytest.MonkeyPatch, given: str, used: str) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    settings = load_settings()
    assert (settings.DATABASE_URL, given) == (used, given)
    if used.startswith("postgresql"):  # a read replica goes with a PostgreSQL primary only
        monkeypatch.setenv("DATABASE_READ_URL", "postgres://r:p@replica/stats")
        assert load_settings().DATABASE_READ_URL == "postgresql+asyncpg://r:p@replica/stats"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://statsbot:s3cr3t-pw@db/stats"),
        ("DATABASE_READ_URL", "sqlite+aiosqlite://statsbot:s3cr3t-pw@x/y"),
        ("REDIS_URL", "http://default:s3cr3t-pw@cache:6379/0"),
    ],
)
def test_a_bad_url_is_echoed_without_its_password(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert name in str(err.value) and "s3cr3t-pw" not in str(err.value)
    assert ":***@" in str(err.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql+asyncpg://u:pw@h:5432/db", "postgresql+asyncpg://u:***@h:5432/db"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("at redis://u:p@ss:w@h/0 and postgres://a:b@c/d.", "at redis://u:***@h/0 and postgres://a:***@c/d."),
        ("redis://cache:6379/0 and sqlite+aiosqlite:///./x.db", "redis://cache:6379/0 and sqlite+aiosqlite:///./x.db"),
        ("http://user@host/x", "http://user@host/x"),
        ("no url here: a:b@c", "no url here: a:b@c"),
    ],
)
def test_redact_hides_every_password_and_nothing_else(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().LOG_FORMAT == "text"
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert load_settings().LOG_FORMAT == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        load_settings()
