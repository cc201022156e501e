"""Interaction to posted image, through the offline Discord, on a year of a large guild.

Loads the data of ``bench/queries.py`` (about 10,000,000 hourly rows, 20,000
members) into a scratch TimescaleDB database, runs the real bot against the
sandbox with its clock at the end of that year, and times ``/stats server 30d``,
``/stats user 365d`` and ``/top messages 90d`` from the interaction to the
follow-up carrying the image, next to ``/privacy status`` (a reply with no query
or image: the cost of the round trip itself) measured in the same run. Target:
p95 <= 1 s for each report.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from _common import emit, recreate_database, service_urls
from queries import GUILD, NOW, load

from bot.app import EXTENSIONS
from demo.runner import DemoClock, running_bot
from sandbox import SandboxDiscord

RUNS = 20
MEMBER = 7919  # has messages and voice all year in the loaded data
TARGET_P95_MS = 1000.0


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


async def main() -> None:
    db_url, _ = service_urls()
    url = await recreate_database(db_url, "bench_e2e")
    took = await load(url)
    print(f"loaded a year of guild {GUILD} in {sum(took.values()):.0f} s")
    clock = DemoClock()
    clock.set(int(NOW.timestamp()))
    async with SandboxDiscord() as sb:
        owner = sb.add_user("owner")
        guild = sb.add_guild("Bench Guild", owner=owner, guild_id=GUILD)
        general = sb.add_channel(guild, "general")
        member = sb.add_member(guild, sb.add_user("busy-member", user_id=MEMBER))
        for i in range(1, 50):
            sb.add_member(guild, sb.add_user(f"member-{i}", user_id=i))
        commands: list[tuple[str, str, dict[str, Any]]] = [
            ("baseline /privacy status", "privacy status", {}),
            ("/stats server 30d", "stats server", {"period": "30d"}),
            ("/stats user 365d", "stats user", {"member": member.user, "period": "365d"}),
            ("/top messages 90d", "top", {"metric": "messages", "period": "90d"}),
        ]
        results: dict[str, list[float]] = {label: [] for label, _, _ in commands}
        async with running_bot(sb, url, None, clock, EXTENSIONS):
            for _ in range(RUNS):
                for label, path, options in commands:
                    start = time.perf_counter()
                    reply = await (await sb.invoke(guild, general, owner, path, options)).final(timeout=60)
                    results[label].append((time.perf_counter() - start) * 1000)
                    if label != "baseline /privacy status" and not reply.files:
                        raise SystemExit(f"{label} answered without an image: {reply.content!r}")
    baseline = statistics.median(results["baseline /privacy status"])
    figures: dict[str, Any] = {"baseline_p50_ms": round(baseline, 1), "runs": RUNS}
    met = True
    for label, values in results.items():
        if label.startswith("baseline"):
            continue
        p50, top = statistics.median(values), p95(values)
        met &= top <= TARGET_P95_MS
        key = label.strip("/").replace(" ", "_")
        figures[f"{key}_p50_ms"] = round(p50, 1)
        figures[f"{key}_p95_ms"] = round(top, 1)
        print(f"{label:22} p50 {p50:7.1f} ms  p95 {top:7.1f} ms  ({p50 / baseline:.1f}x the round trip)")
    print(f"round trip alone (/privacy status): p50 {baseline:.1f} ms")
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms for each report: {met}")
    figures["target_met"] = met
    emit(figures)


if __name__ == "__main__":
    asyncio.run(main())
