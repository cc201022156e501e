"""What an admin sees when something is wrong: the real commands as subprocesses, one line each.

Each test runs ``python -m bot run | migrate | demo`` with a broken environment and asserts the
exit status, one clear line on stderr (``LOG_LEVEL=ERROR`` leaves nothing else there), no
traceback, no password anywhere in the output, and that it ends within a stated time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import service_url

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-secret"
# A login attempt may take this long in these tests (DISCORD_TIMEOUT_SECONDS); three attempts in all.
LOGIN_TIMEOUT_S = 0.5
# Three attempts of LOGIN_TIMEOUT_S with 1 s between them, plus start-up: well within this.
BOUNDED_S = 30.0


def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never answers a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def bot(tmp_path: Path, *args: str, timeout: float = BOUNDED_S, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` in an empty folder (no .env) with only ``env``; it must end within ``timeout``."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "ERROR",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/stats.db",
        "DISCORD_TIMEOUT_SECONDS": str(LOGIN_TIMEOUT_S),
    }
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    done.elapsed = time.monotonic() - began  # type: ignore[attr-defined]
    return done


def one_line(done: subprocess.CompletedProcess[str], status: int, *said: str) -> str:
    """The process exited with ``status`` and wrote exactly one line on stderr, saying ``said``."""
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out[-3000:]
    assert PASSWORD not in out, out[-3000:]
    lines = done.stderr.strip().splitlines()
    assert done.returncode == status, (done.returncode, out[-3000:])
    assert len(lines) == 1, lines
    for part in said:
        assert part in lines[0], lines[0]
    return lines[0]


def discord_run(tmp_path: Path, api: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables: dict[str, Any] = {"DISCORD_TOKEN": "a-token", "DISCORD_API_URL": api, **env}
    return bot(tmp_path, "run", **variables)


# -- Discord ----------------------------------------------------------------------------------


def test_discord_refusing_connections_is_one_line_after_bounded_retries(tmp_path: Path) -> None:
    port = closed_port()
    done = discord_run(tmp_path, f"http://127.0.0.1:{port}")
    line = one_line(done, 1, "cannot reach Discord", f"127.0.0.1:{port}", "tried 3 times", "check the network")
    assert line.startswith("error: ")


def test_json_logs_end_with_the_error_as_a_record_too(tmp_path: Path) -> None:
    done = discord_run(tmp_path, f"http://127.0.0.1:{closed_port()}", LOG_FORMAT="json", LOG_LEVEL="WARNING")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    records = [json.loads(line) for line in done.stderr.strip().splitlines()]  # every line is one JSON object
    assert [r["level"] for r in records] == ["WARNING", "WARNING", "CRITICAL"], records
    assert records[-1]["message"].startswith("error: cannot reach Discord")


def test_discord_dns_failure_is_one_line(tmp_path: Path) -> None:
    done = discord_run(tmp_path, "http://discord.statsbot-test.invalid")
    one_line(done, 1, "DNS lookup of discord.statsbot-test.invalid failed", "tried 3 times")


def test_discord_never_answering_is_bounded(tmp_path: Path, silent_server: int) -> None:
    done = discord_run(tmp_path, f"http://127.0.0.1:{silent_server}")
    one_line(done, 1, f"did not answer the login within {LOGIN_TIMEOUT_S} s", "tried 3 times")
    # Three attempts of 1 s and two pauses of 1 s; the rest is the interpreter starting.
    assert done.elapsed < BOUNDED_S  # type: ignore[attr-defined]


def test_sigterm_while_discord_never_answers_exits_cleanly(tmp_path: Path, silent_server: int) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/stats.db",
        "DISCORD_TOKEN": "a-token",
        "DISCORD_API_URL": f"http://127.0.0.1:{silent_server}",
        "DISCORD_TIMEOUT_SECONDS": "60",
    }
    err = tmp_path / "stderr"
    with err.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stderr=sink, text=True)
        try:
            deadline = time.monotonic() + BOUNDED_S
            while "logging in using static token" not in err.read_text():
                assert proc.poll() is None, err.read_text()
                assert time.monotonic() < deadline, err.read_text()
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = err.read_text()
    assert rc == 0, text
    assert "Traceback" not in text
    assert "SIGTERM received while logging in: stopping" in text
    assert "PyNaCl" not in text and "voice will NOT be supported" not in text  # voice tracking needs no audio


# -- Redis and the database ---------------------------------------------------------------------


def test_redis_down_is_said_before_logging_in_and_retries_are_announced(tmp_path: Path) -> None:
    redis_port = closed_port()
    done = discord_run(
        tmp_path,
        f"http://127.0.0.1:{closed_port()}",
        LOG_LEVEL="WARNING",
        REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0",
    )
    out = done.stdout + done.stderr
    assert PASSWORD not in out and "Traceback" not in out
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 4, lines
    assert f"Redis unreachable at 127.0.0.1:{redis_port}" in lines[0], lines
    assert "counters stay in this process until it is back" in lines[0]
    # Each retry of the login is announced (WARNING), then the one error line.
    assert "retrying in" in lines[1] and "(attempt 2 of 3)" in lines[1], lines
    assert "retrying in" in lines[2] and "(attempt 3 of 3)" in lines[2], lines
    assert lines[3].startswith("error: cannot reach Discord"), lines


@pytest.mark.parametrize("command", ["run", "migrate"])
def test_unwritable_sqlite_path_is_one_line(tmp_path: Path, command: str) -> None:
    # /proc takes no new files, even for root (a read-only folder would not stop root).
    done = bot(tmp_path, command, DATABASE_URL="sqlite+aiosqlite:////proc/statsbot-test.db", DISCORD_TOKEN="t")
    one_line(done, 1, "cannot write the SQLite database /proc/statsbot-test.db", "check DATABASE_URL")


def test_sqlite_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    done = bot(tmp_path, "migrate", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/a-file/data/stats.db")
    one_line(done, 1, "cannot create the folder of the SQLite database", "a-file/data/stats.db")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+asyncpg"])
def test_unreachable_database_is_one_line_without_its_password(tmp_path: Path, scheme: str) -> None:
    port = closed_port()
    done = bot(tmp_path, "migrate", DATABASE_URL=f"{scheme}://statsbot:{PASSWORD}@127.0.0.1:{port}/stats")
    one_line(done, 1, f"database unreachable at 127.0.0.1:{port}/stats", "check DATABASE_URL")


def test_database_refusing_the_password_is_one_line_without_it(tmp_path: Path) -> None:
    real = make_url(service_url("TEST_DATABASE_URL"))
    url = real.set(username="statsbot_nobody", password=PASSWORD).render_as_string(hide_password=False)
    done = bot(tmp_path, "migrate", DATABASE_URL=url.replace("postgresql+asyncpg://", "postgresql://"))
    one_line(done, 1, f"database at {real.host}:{real.port}/{real.database} refused the connection")


def test_a_bad_url_is_a_configuration_error_without_its_password(tmp_path: Path) -> None:
    done = bot(tmp_path, "migrate", DATABASE_URL=f"mysql://statsbot:{PASSWORD}@db/stats")
    one_line(done, 2, "configuration error: DATABASE_URL: must start with", "mysql://statsbot:***@db/stats")


# -- the demo -------------------------------------------------------------------------------------


def test_demo_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    port = closed_port()
    done = bot(tmp_path, "demo", "--out", "out", "--database", f"postgresql://u:{PASSWORD}@127.0.0.1:{port}/demo")
    one_line(done, 1, f"demo database unreachable at 127.0.0.1:{port}/demo", "check --database")


def test_demo_with_redis_down_is_one_line_and_quick(tmp_path: Path) -> None:
    port = closed_port()
    done = bot(tmp_path, "demo", "--out", "out", "--redis", f"redis://:{PASSWORD}@127.0.0.1:{port}/0", timeout=20)
    one_line(done, 1, f"demo Redis unreachable at 127.0.0.1:{port}", "check --redis")


# -- help -----------------------------------------------------------------------------------------


def test_help_lists_the_environment_and_each_command_says_what_it_does(tmp_path: Path) -> None:
    done = bot(tmp_path, "--help")
    assert done.returncode == 0
    for name in ("DISCORD_TOKEN", "DATABASE_URL", "REDIS_URL", "LOG_FORMAT", "METRICS_PORT", "DATABASE_READ_URL"):
        assert name in done.stdout, name
    for command, said in (("run", "log in to Discord"), ("migrate", "Alembic"), ("demo", "--seed")):
        sub = bot(tmp_path, command, "--help")
        assert sub.returncode == 0 and said in " ".join(sub.stdout.split()), (command, sub.stdout)
    version = bot(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("statsbot ")
