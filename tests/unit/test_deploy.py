"""The Docker files: compose accepts the stack, the image carries what the bot runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]


SECRETS = {"DISCORD_TOKEN": "test-token", "POSTGRES_PASSWORD": "compose-test-password"}


def compose_config(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` of the stack (validates it and fills in ``${...}``)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is not installed: the README's test command installs it (Debian package)")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [exe, "-f", str(ROOT / "docker-compose.yml"), "config", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",  # no .env
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    done = compose_config(SECRETS)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def test_compose_file_is_valid_and_runs_migrations_before_the_bot(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert services["bot"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["timescaledb"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["migrate"] and services["bot"]["command"] == ["run"]


def test_images_are_pinned_to_versions(stack: dict[str, Any]) -> None:
    images = {name: s["image"] for name, s in stack["services"].items()}
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg\d+", images["timescaledb"]), images
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+(-alpine)?", images["redis"]), images
    for name, image in images.items():
        assert ":" in image and not image.endswith((":latest", "-latest")), (name, image)
    base = re.search(r"^FROM (\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert base is not None and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base.group(1)), base


def test_one_image_built_once_for_migrate_and_bot(stack: dict[str, Any]) -> None:
    services = stack["services"]
    built = [name for name, s in services.items() if "build" in s]
    assert built == ["migrate"]
    assert services["migrate"]["image"] == services["bot"]["image"]
    assert services["bot"]["pull_policy"] == "never"


def test_the_database_password_comes_from_the_environment(stack: dict[str, Any]) -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    assert "compose-test-password" not in raw
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in raw
    services = stack["services"]
    assert services["timescaledb"]["environment"]["POSTGRES_PASSWORD"] == "compose-test-password"
    for name in ("migrate", "bot"):
        url = services[name]["environment"]["DATABASE_URL"]
        assert url == "postgresql://statsbot:compose-test-password@timescaledb:5432/statsbot", (name, url)


def test_bot_health_check_has_a_start_period_and_an_unhealthy_bot_is_restarted(stack: dict[str, Any]) -> None:
    services = stack["services"]
    health = services["bot"]["healthcheck"]
    assert health["start_period"] and "/healthz" in " ".join(health["test"])
    assert services["bot"]["restart"] == "unless-stopped"
    # Docker itself only restarts containers that exit: autoheal restarts the unhealthy one.
    assert services["bot"]["labels"]["autoheal"] == "true"
    heal = services["autoheal"]
    assert heal["environment"]["AUTOHEAL_CONTAINER_LABEL"] == "autoheal"
    assert any(v.startswith("/var/run/docker.sock:") for v in heal["volumes"])


def test_every_service_has_bounded_json_file_logs(stack: dict[str, Any]) -> None:
    for name, service in stack["services"].items():
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert re.fullmatch(r"\d+[km]", logging["options"]["max-size"]), name
        assert int(logging["options"]["max-file"]) >= 1, name
    assert stack["services"]["bot"]["environment"]["LOG_FORMAT"] == "text"
    done = compose_config(SECRETS | {"LOG_FORMAT": "json"})
    assert yaml.safe_load(done.stdout)["services"]["bot"]["environment"]["LOG_FORMAT"] == "json"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(missing: str) -> None:
    done = compose_config({k: v for k, v in SECRETS.items() if k != missing}, "-q")
    assert done.returncode != 0
    assert missing in done.stderr


def test_the_version_is_the_projects() -> None:
    from bot.__main__ import VERSION

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == VERSION


def test_image_contains_every_package_the_bot_imports() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for part in ("bot", "cogs", "db", "alembic", "alembic.ini", "requirements.txt"):
        assert f"COPY {part}" in dockerfile
    assert 'ENTRYPOINT ["python", "-m", "bot"]' in dockerfile
