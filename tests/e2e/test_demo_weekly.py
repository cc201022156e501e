"""The demo's own week through the real bot: "never present" equals what the demo's script says.

The event is configured as the live script starts (an hour in the study rooms from the
anchor); two members join during it, two join after it, two members leave after it.
The expected list is computed here from the script alone: members during the occurrence
(joined before it ended, not gone before it began) without one minute of at least 30
seconds in a study room. The week before, when no event was configured, says so.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.analytics.periods import parse_iso_week
from bot.app import EXTENSIONS
from db.migrate import upgrade
from demo.community import Community, build_community
from demo.runner import TIMEZONE, DemoClock, backfill, flush, populate, replay, running_bot
from sandbox import SandboxDiscord
from tests.e2e.conftest import Storage

pytestmark = pytest.mark.e2e

EVENT_MINUTES = 60
ROOMS = ("Study Room 1", "Study Room 2")


def attendees(community: Community, start: int, minutes: int) -> set[str]:
    """Members with at least one minute of the occurrence in which they were 30 s or more in a study room."""
    seconds: dict[str, Counter[int]] = {}
    where: dict[str, str] = {}
    last = community.anchor
    for e in [*community.live, None]:
        at = e.at if e is not None else start + minutes * 60
        for t in range(max(last, start), min(at, start + minutes * 60)):
            for user, room in where.items():
                if room in ROOMS:
                    seconds.setdefault(user, Counter())[(t - start) // 60] += 1
        last = max(last, at)
        if e is None:
            break
        if e.kind == "voice":
            if e.channel is None:
                where.pop(e.user, None)
            else:
                where[e.user] = e.channel
        elif e.kind == "leave":
            where.pop(e.user, None)
    return {u for u, c in seconds.items() if any(v >= 30 for v in c.values())}


def expected_never(community: Community, start: int, minutes: int) -> tuple[set[str], set[str]]:
    """Members during the occurrence who attended none of it: (still members, left since)."""
    end = start + minutes * 60
    joined = {m.key: community.anchor - m.joined_days_ago * 86400 for m in community.members if not m.bot}
    joined.update({e.user: e.at for e in community.live if e.kind == "join"})
    left = {e.user: e.at for e in community.live if e.kind == "leave"}
    during = {k for k, at in joined.items() if at < end and left.get(k, end + 1) > start}
    absent = during - attendees(community, start, minutes)
    return {k for k in absent if k not in left}, {k for k in absent if k in left}


async def test_never_present_in_the_demo_week_equals_the_script(storage: Storage) -> None:
    await upgrade(storage.engine)
    anchor = datetime.fromtimestamp((int(datetime.now(UTC).timestamp()) // 3600 - 4) * 3600, UTC)
    community = build_community(5, anchor)
    tz = ZoneInfo(TIMEZONE)
    local = anchor.astimezone(tz)
    stay, gone = expected_never(community, community.anchor, EVENT_MINUTES)
    assert stay and gone  # the script has absentees who stayed and who left, or the test proves little
    clock = DemoClock()
    clock.set(community.anchor)
    async with SandboxDiscord() as sb:
        world = populate(sb, community)
        admin = world.users[community.with_role("Admin")[0]]
        general = world.channels["general"]
        async with running_bot(sb, storage.database_url, storage.redis_url, clock, EXTENSIONS) as bot:
            steps: tuple[tuple[str, dict[str, Any]], ...] = (
                ("config timezone", {"tz": TIMEZONE}),
                (
                    "config event",
                    {
                        "action": "add",
                        "start": local.strftime("%H:%M"),
                        "minutes": EVENT_MINUTES,
                        "channels": "Study Room*",
                    },
                ),
            )
            for path, options in steps:
                reply = await (await sb.invoke(world.guild, general, admin, path, options)).final()
                assert reply.ephemeral, reply.content
            done = await backfill(sb, world, community.with_role("Admin")[0])  # the weeks before have data
            assert "finished" in done.content
            names = {k: u.global_name or u.username for k, u in world.users.items()}
            await replay(sb, world, community, clock)
            await flush(bot)
            clock.set(community.anchor + 4 * 3600)
            week = parse_iso_week(f"{local.isocalendar().year}-W{local.isocalendar().week:02d}", tz)
            reply = await (await sb.invoke(world.guild, general, admin, "report weekly", {"week": week.label})).final(
                timeout=30
            )
            before = week.start - timedelta(days=3)
            earlier = before.astimezone(tz).isocalendar()
            quiet = await (
                await sb.invoke(
                    world.guild, general, admin, "report weekly", {"week": f"{earlier.year}-W{earlier.week:02d}"}
                )
            ).final(timeout=30)
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    [(title, value)] = [(k, v) for k, v in fields.items() if k.startswith("Never")]
    listed = set(value.split(", "))
    want = {names[k] for k in stay} | {f"{names[k]} (left)" for k in gone}
    assert listed == want, (sorted(listed), sorted(want))
    assert title == f"Never at an event ({len(want)})"
    alt = reply.files[0].description or ""
    assert re.search(rf"Never present at any of the 1 events \({len(want)}\)", alt), alt
    for name in want:
        assert name in alt
    quiet_fields = {f["name"]: f["value"] for f in quiet.embeds[0]["fields"]}
    assert quiet_fields["Never at an event"] == "No event took place this week."
    assert "No event took place this week" in (quiet.files[0].description or "")
