"""Benchmark the report renderers against a default matplotlib chart measured in the same run.

Run from the repository root: ``.venv/bin/python bench/render.py [--repeat N]``.

For each report kind it renders a realistic synthetic model N times after a warm-up and
takes the median; the baseline is a default pyplot figure of the same pixel size with a
comparable line chart (title, labels, grid, one week of hourly points), saved as PNG
with ``bbox_inches='tight'``. The models draw what real reports draw: colour emoji glyphs,
custom emoji images and member avatars. The warm figure is the median with the caches
(fonts, rasterised labels, emoji glyphs, decoded pictures) as a running worker has them;
the cold figure is the first render of each kind in this process. The last line printed
is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from bot.render import KINDS, RenderPool, samples
from bot.render import theme as th
from bot.render.reports import image_size, render

TARGET_MS = 60.0


def time_ms(function: Callable[[], Any], repeat: int, warm_up: int = 2) -> list[float]:
    """Wall-clock milliseconds of ``repeat`` calls, after ``warm_up`` untimed calls."""
    for _ in range(warm_up):
        function()
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def baseline(size: tuple[int, int]) -> bytes:
    """A default matplotlib line chart of ``size`` pixels saved with ``bbox_inches='tight'``."""
    hours = np.arange(168)
    values = 40 + 30 * np.sin(hours / 24 * 2 * np.pi) + np.random.default_rng(0).normal(0, 5, hours.size)
    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100), dpi=100)
    ax.plot(hours, values, label="messages")
    ax.fill_between(hours, values, alpha=0.3)
    ax.set_title("Messages per hour")
    ax.set_xlabel("hour")
    ax.set_ylabel("messages")
    ax.grid(True)
    ax.legend()
    out = io.BytesIO()
    fig.savefig(out, format="png", bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def models(seed: int = 0) -> dict[str, Any]:
    """One realistic model per report kind; a different ``seed`` gives different figures and series."""
    return {
        "server": samples.server(7, seed=1 + seed),
        "user": samples.user(seed=2 + seed),
        "channel": samples.channel(seed=3 + seed),
        "leaderboard": samples.leaderboard(10, seed=4 + seed),
        "emojis": samples.emojis(seed=5 + seed),
        "invites": samples.invites(seed=6 + seed),
        "event_hour": samples.event_hour(20, seed=7 + seed),
        "weekly": samples.weekly(seed=8 + seed),
        "mentor": samples.mentor(seed=9 + seed),
    }


async def pool_throughput(batch: dict[str, Any], rounds: int) -> tuple[int, float]:
    """Images per second through a ``RenderPool`` with one worker per CPU (after warm-up)."""
    async with RenderPool() as pool:
        jobs = [(kind, model) for _ in range(rounds) for kind, model in batch.items()]
        await asyncio.gather(*(pool.render(kind, model) for kind, model in batch.items()))
        start = time.perf_counter()
        await asyncio.gather(*(pool.render(kind, model) for kind, model in jobs))
        elapsed = time.perf_counter() - start
        return pool.processes, len(jobs) / elapsed


def main() -> None:
    """Run the benchmark and print a table, a verdict and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11, help="timed renders per kind (default 11)")
    parser.add_argument("--no-pool", action="store_true", help="skip the process pool throughput run")
    args = parser.parse_args()

    batch = models()
    # Each timed round renders new models (other numbers, series and presence grids), so that
    # caches of rasterised labels only help as much as they would between real requests.
    rounds = [models(seed=10 * (r + 1)) for r in range(args.repeat)]
    sizes = {kind: image_size(kind, batch[kind]) for kind in KINDS}
    baselines = {size: partial(baseline, size) for size in set(sizes.values())}
    emoji_font = th.emoji_font()
    cold: dict[str, float] = {}
    for kind in KINDS:  # warm-up: imports, font and figure caches; the first render of each kind is the cold one
        cold[kind] = time_ms(partial(render, kind, batch[kind]), 1, warm_up=0)[0]
    for function in baselines.values():
        function()
    ours: dict[str, list[float]] = {kind: [] for kind in KINDS}
    base_by_size: dict[tuple[int, int], list[float]] = {size: [] for size in baselines}
    # Interleaved rounds, so that both sides see the same background load on a shared machine.
    for round_models in rounds:
        for kind in KINDS:
            model = round_models[kind]
            ours[kind] += time_ms(partial(render, kind, model), 1, warm_up=0)
        for size, function in baselines.items():
            base_by_size[size] += time_ms(function, 1, warm_up=0)
    base = {kind: base_by_size[sizes[kind]] for kind in KINDS}
    print(f"colour emoji font: {'found' if emoji_font is not None else 'NOT found (emojis drawn as names)'}")
    print(f"{'kind':<12} {'size':>10} {'median ms':>10} {'cold ms':>8} {'baseline ms':>12} {'ratio':>6}")
    for kind in KINDS:
        mine, theirs = statistics.median(ours[kind]), statistics.median(base[kind])
        size = sizes[kind]
        print(
            f"{kind:<12} {size[0]:>5}×{size[1]:<4} {mine:>10.1f} {cold[kind]:>8.1f}"
            f" {theirs:>12.1f} {mine / theirs:>6.2f}"
        )

    overall = statistics.median([t for kind in KINDS for t in ours[kind]])
    baseline_overall = statistics.median([t for kind in KINDS for t in base[kind]])
    slowest = max(KINDS, key=lambda kind: statistics.median(ours[kind]))
    ratio = overall / baseline_overall
    met = overall <= TARGET_MS and ratio < 1
    cold_median = statistics.median(cold.values())
    print(f"\noverall median: {overall:.1f} ms per image warm (slowest kind: {slowest})")
    print(
        f"cold (first render of each kind in a fresh process): median {cold_median:.1f} ms,"
        f" total {sum(cold.values()):.0f} ms"
    )
    print(f"baseline median (default pyplot figure, bbox_inches='tight', same sizes): {baseline_overall:.1f} ms")
    print(f"ratio vs baseline: {ratio:.2f} ({1 / ratio:.1f}× faster)")
    print(f"target ≤ {TARGET_MS:.0f} ms and faster than baseline: {'met' if met else 'NOT met'}")

    result: dict[str, Any] = {
        "median_ms": round(overall, 2),
        "baseline_median_ms": round(baseline_overall, 2),
        "ratio_vs_baseline": round(ratio, 3),
        "target_ms": TARGET_MS,
        "target_met": met,
        "per_kind_median_ms": {kind: round(statistics.median(ours[kind]), 2) for kind in KINDS},
        "cold_median_ms": round(cold_median, 2),
        "per_kind_cold_ms": {kind: round(cold[kind], 2) for kind in KINDS},
        "colour_emoji_font": emoji_font is not None,
        "per_kind_baseline_median_ms": {kind: round(statistics.median(base[kind]), 2) for kind in KINDS},
        "repeat": args.repeat,
        "cpu_count": os.cpu_count(),
    }
    if not args.no_pool:
        workers, rate = asyncio.run(pool_throughput(batch, rounds=4))
        print(f"process pool ({workers} workers): {rate:.1f} images/s")
        result["pool_workers"] = workers
        result["pool_images_per_s"] = round(rate, 1)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
