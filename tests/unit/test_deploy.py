"""The Docker files: compose accepts the stack, the image carries what the bot runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_is_valid_and_runs_migrations_before_the_bot() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: the README's test command installs it (Debian package)")
    env = {**os.environ, "DISCORD_TOKEN": "test-token"}
    done = subprocess.run(
        [exe, "-f", str(ROOT / "docker-compose.yml"), "config"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    config = done.stdout
    assert "timescale/timescaledb" in config
    assert "redis" in config
    assert "service_completed_successfully" in config  # the bot waits for `migrate`


def test_compose_refuses_to_start_without_a_token() -> None:
    exe = shutil.which("docker-compose")
    assert exe is not None
    env = {k: v for k, v in os.environ.items() if k != "DISCORD_TOKEN"}
    done = subprocess.run(
        [exe, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode != 0
    assert "DISCORD_TOKEN" in done.stderr


def test_image_contains_every_package_the_bot_imports() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for part in ("bot", "cogs", "db", "alembic", "alembic.ini", "requirements.txt"):
        assert f"COPY {part}" in dockerfile
    assert 'ENTRYPOINT ["python", "-m", "bot"]' in dockerfile
