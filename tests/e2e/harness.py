"""Running the real bot (``python -m bot run``) as a subprocess, and waiting on it with deadlines.

Every wait here is bounded: on a timeout or an unexpected exit the test fails with the tail of
the bot's stdout and stderr, which are written to files in the test's ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from bot.settings import Settings
from sandbox import SandboxDiscord

REPO_ROOT = Path(__file__).resolve().parents[2]

# Deadlines (seconds). The bot needs about 3 s to become ready: migrations, then discord.py's
# guild_ready_timeout (2 s after the last GUILD_CREATE).
READY_TIMEOUT_S = 25.0
EXIT_TIMEOUT_S = 20.0
POLL_TIMEOUT_S = 15.0
POLL_EVERY_S = 0.05

Metrics = dict[str, float]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Settings for which the bot reads an empty value as unset.
EMPTY_IS_UNSET = ("DISCORD_TOKEN", "REDIS_URL", "METRICS_PORT", "SHARD_COUNT", "SHARD_IDS", "DISCORD_API_URL")


def bot_env(settings: Mapping[str, str | None]) -> dict[str, str]:
    """The environment of a bot process: this one's, minus every bot setting, plus ``settings``.

    Settings inherited from the shell running pytest must not leak into the bot; a value of
    None leaves that variable unset. The bot also reads ``.env`` in the repository root: when a
    developer has one, the variables left unset here are passed empty instead, so that its
    values do not leak in either.
    """
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: v for k, v in settings.items() if v is not None})
    if (REPO_ROOT / ".env").exists():
        env.update({k: "" for k in EMPTY_IS_UNSET if k not in env})
    return env


def parse_metrics(text: str) -> Metrics:
    """``statsbot_x value`` lines of the Prometheus text format, as {"x": value}."""
    out: Metrics = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split()
            out[name.removeprefix("statsbot_")] = float(value)
    return out


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no file)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


class BotProcess:
    """One ``python -m bot run`` process, its output files and its metrics port."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, out: Path, err: Path, port: int | None) -> None:
        self.name = name
        self.proc = proc
        self.out = out
        self.err = err
        self.port = port

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def tails(self) -> str:
        return (
            f"--- bot {self.name} (pid {self.proc.pid}, exit {self.proc.returncode}) stdout ---\n{tail(self.out)}\n"
            f"--- bot {self.name} stderr ---\n{tail(self.err)}"
        )

    def fail(self, why: str) -> AssertionError:
        return AssertionError(f"{why}\n{self.tails()}")

    async def _get(self, http: aiohttp.ClientSession, path: str) -> tuple[int, str] | None:
        """GET on the metrics port; None while nothing answers there."""
        assert self.port is not None, "this bot runs without METRICS_PORT"
        try:
            async with http.get(
                f"http://127.0.0.1:{self.port}{path}", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def wait_healthy(self, http: aiohttp.ClientSession, timeout: float = READY_TIMEOUT_S) -> None:  # noqa: ASYNC109
        """Poll ``/healthz`` until 200 (connected to the gateway, guilds available)."""
        deadline = time.monotonic() + timeout
        last: tuple[int, str] | None = None
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise self.fail(f"bot {self.name} exited with {self.proc.returncode} before it was healthy")
            last = await self._get(http, "/healthz")
            if last is not None and last[0] == 200:
                return
            await asyncio.sleep(POLL_EVERY_S)
        raise self.fail(f"bot {self.name} not healthy within {timeout} s (last /healthz: {last})")

    async def metrics(self, http: aiohttp.ClientSession) -> Metrics:
        got = await self._get(http, "/metrics")
        if got is None or got[0] != 200:
            raise self.fail(f"bot {self.name}: /metrics answered {got}")
        return parse_metrics(got[1])

    async def wait_metrics(
        self,
        http: aiohttp.ClientSession,
        ok: Callable[[Metrics], bool],
        what: str,
        timeout: float = POLL_TIMEOUT_S,  # noqa: ASYNC109
    ) -> Metrics:
        """Poll ``/metrics`` until ``ok(metrics)``; return those metrics."""
        deadline = time.monotonic() + timeout
        last: Metrics = {}
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise self.fail(f"bot {self.name} exited with {self.proc.returncode} while waiting for {what}")
            last = await self.metrics(http)
            if ok(last):
                return last
            await asyncio.sleep(POLL_EVERY_S)
        raise self.fail(f"bot {self.name}: {what} did not happen within {timeout} s (last metrics: {last})")

    async def wait_exit(self, timeout: float = EXIT_TIMEOUT_S) -> int:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                return await self.proc.wait()
        except TimeoutError:
            self.kill()
            await self.proc.wait()
            raise self.fail(f"bot {self.name} did not exit within {timeout} s") from None

    async def terminate(self, timeout: float = EXIT_TIMEOUT_S) -> int:  # noqa: ASYNC109
        """SIGTERM, then the exit code (the process is killed and the test fails after ``timeout``)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the bot's process group (its render pool's processes)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    async def sigkill(self) -> None:
        """Crash the bot: SIGKILL the bot's process, wait until it is gone, then remove what it left.

        The render pool's processes outlive a SIGKILLed bot; they hold no counters, so killing
        them after the crash changes nothing the test checks.
        """
        if self.proc.returncode is not None:
            raise self.fail(f"bot {self.name} had already exited with {self.proc.returncode} before SIGKILL")
        self.kill()
        rc = await self.wait_exit()
        self.kill_group()
        if rc != -signal.SIGKILL:
            raise self.fail(f"bot {self.name} exit {rc} after SIGKILL")


class Bots:
    """Starts bot processes for one test and makes sure none survives it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[BotProcess] = []
        self.http = aiohttp.ClientSession()

    async def start(self, settings: Mapping[str, str | None], *, metrics: bool = True) -> BotProcess:
        """``python -m bot run`` from the repository root, configured only by ``settings`` (env vars).

        With ``metrics`` a free METRICS_PORT is added.
        """
        name = str(len(self.started) + 1)
        port = free_port() if metrics else None
        env = bot_env({**settings, "METRICS_PORT": None if port is None else str(port)})
        out, err = self.tmp_path / f"bot{name}.stdout", self.tmp_path / f"bot{name}.stderr"
        with out.open("wb") as fout, err.open("wb") as ferr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=REPO_ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=fout,
                stderr=ferr,
                start_new_session=True,  # its own process group, killed whole at the end
            )
        bot = BotProcess(name, proc, out, err, port)
        self.started.append(bot)
        return bot

    async def start_healthy(self, settings: Mapping[str, str | None]) -> BotProcess:
        """Start a bot and wait until ``/healthz`` says it is ready (its guilds available)."""
        bot = await self.start(settings)
        await bot.wait_healthy(self.http)
        return bot

    async def start_connected(self, settings: Mapping[str, str | None], sb: SandboxDiscord) -> BotProcess:
        """Start a bot and wait until it has parsed READY and its GUILD_CREATEs.

        Two seconds sooner than ready (discord.py waits ``guild_ready_timeout`` before it
        dispatches ``on_ready``), enough for messages to count. A previous bot's connection
        must be gone first, or the sandbox would send to it.
        """
        await wait_until(lambda: not sb.gateway.ready_connections(), "the previous bot's gateway connection closed")
        bot = await self.start(settings)
        await wait_until(sb.gateway.ready_connections, "the bot's gateway connection", timeout=READY_TIMEOUT_S, bot=bot)
        await sb.barrier()
        return bot

    def tails(self) -> str:
        return "\n".join(b.tails() for b in self.started)

    async def close(self) -> None:
        """Kill whatever still runs, the bots' child processes too, and reap the bots (bounded)."""
        for b in self.started:
            b.kill()
            b.kill_group()
        for b in self.started:
            try:
                async with asyncio.timeout(10):
                    await b.proc.wait()
            except TimeoutError:
                print(f"bot {b.name} (pid {b.proc.pid}) could not be reaped")
        await self.http.close()


async def wait_until(
    check: Callable[[], Any],
    what: str,
    *,
    timeout: float = POLL_TIMEOUT_S,  # noqa: ASYNC109
    bot: BotProcess | None = None,
) -> Any:
    """Poll ``check`` (sync or async; a truthy result ends the wait) until ``timeout``; return its result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if bot is not None and bot.returncode is not None:
            raise bot.fail(f"bot {bot.name} exited with {bot.returncode} while waiting for {what}")
        if time.monotonic() >= deadline:
            message = f"{what} did not happen within {timeout} s"
            raise bot.fail(message) if bot is not None else AssertionError(message)
        await asyncio.sleep(POLL_EVERY_S)
