"""The render pool renders the same bytes in worker processes as in-process, and shuts down cleanly."""

from __future__ import annotations

import io
import os
import pickle

import pytest
from PIL import Image

from bot.render import KINDS, RenderPool, samples
from bot.render.reports import image_size


@pytest.mark.parametrize("kind", KINDS)
def test_models_are_picklable(kind: str) -> None:
    model = getattr(samples, kind)()
    clone = pickle.loads(pickle.dumps(model))
    assert type(clone) is type(model)


async def test_in_process_mode() -> None:
    pool = RenderPool(processes=0)
    assert pool.in_process
    await pool.start()
    png = await pool.render("leaderboard", samples.leaderboard())
    assert Image.open(io.BytesIO(png)).size == image_size("leaderboard", samples.leaderboard())
    await pool.close()


async def test_process_mode_matches_in_process() -> None:
    model = samples.server()
    async with RenderPool(processes=0) as local:
        expected = await local.render("server", model)
    pool = RenderPool(processes=2)
    await pool.start()
    try:
        results = [await pool.render(kind, getattr(samples, kind)()) for kind in ("server", "event_hour", "mentor")]
        assert results[0] == expected
        for png in results:
            Image.open(io.BytesIO(png)).verify()
    finally:
        await pool.close()
    await pool.close()  # closing twice is harmless


async def test_spawn_start_method() -> None:
    async with RenderPool(processes=1, start_method="spawn") as pool:
        png = await pool.render("weekly", samples.weekly())
    assert png.startswith(b"\x89PNG")


async def test_unknown_kind_raises_from_worker() -> None:
    async with RenderPool(processes=1) as pool:
        with pytest.raises(ValueError, match="unknown report kind"):
            await pool.render("nope", samples.server())


def test_rejects_fork_and_negative_sizes() -> None:
    with pytest.raises(ValueError):
        RenderPool(start_method="fork")
    with pytest.raises(ValueError):
        RenderPool(processes=-1)


def test_default_size_is_cpu_count() -> None:
    assert RenderPool().processes == (os.cpu_count() or 1)


async def test_replaces_a_dead_worker(caplog: pytest.LogCaptureFixture) -> None:
    import signal

    async with RenderPool(processes=1) as pool:
        executor = pool._executor
        assert executor is not None
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        png = await pool.render("leaderboard", samples.leaderboard())
        assert png.startswith(b"\x89PNG")
    assert "restarting the pool" in caplog.text


def test_package_import_does_not_load_matplotlib() -> None:
    import subprocess
    import sys

    code = "import sys, bot.render; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_workers_die_with_a_killed_bot() -> None:
    """SIGKILL of the bot's process must not leave render workers behind."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = (
        "import asyncio, os, sys\n"
        "from bot.render.pool import RenderPool\n"
        "async def main():\n"
        "    pool = RenderPool(processes=2)\n"
        "    await pool.start()\n"
        "    pids = {p.pid for p in pool._executor._processes.values()}\n"
        "    print(' '.join(map(str, sorted(pids))), flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if _alive(p)]
            time.sleep(0.05)  # polling another process's exit: nothing to await
        assert not alive, f"render workers {alive} outlived the bot"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
