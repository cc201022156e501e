"""Two bot processes, each running half of 4 shards, on one Redis and one TimescaleDB.

The offline Discord has 4 shards and guilds on each; ``python -m bot run`` runs twice
(``SHARD_IDS=0,1`` and ``2,3``, ``SHARD_COUNT=4``). Messages, reactions and voice go to
every guild; the second process is SIGKILLed while its counters are only in Redis and
started again. Every guild's exported rows must equal what was sent, each event-hour
report and weekly summary must be posted once, and the flush ledger must show that no
process flushed another process's guilds.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
import sqlalchemy as sa

from bot.buffer.keys import partition_name
from bot.buffer.shards import shard_of
from bot.buffer.store import Batch
from bot.posts.eventconfig import parse_days
from db import tables as t
from db.events import add_event
from db.export import stream_rows
from db.flush import BatchWriter
from db.guilds import update_settings
from db.series import HOUR, CounterKey, hour_of
from sandbox import SandboxChannel, SandboxDiscord, SandboxGuild, SandboxUser
from tests.e2e.conftest import Storage
from tests.e2e.harness import BotProcess, Bots, wait_until
from tests.e2e.stored import voice_sessions
from tests.support.counts import rollups_consistent

pytestmark = pytest.mark.e2e

SHARDS = 4
SPLIT = ((0, 1), (2, 3))
GUILDS_PER_SHARD = 2
TAKEOVER = "whose process stopped renewing its lease"


@dataclass
class Community:
    """One guild of the test: its channels and members."""

    guild: SandboxGuild
    text: SandboxChannel
    voice: SandboxChannel
    reports: SandboxChannel
    members: list[SandboxUser]

    @property
    def shard(self) -> int:
        return shard_of(self.guild.id, SHARDS)


@dataclass
class Truth:
    """What every guild's exports must hold."""

    # (guild, hour, channel, user) -> [messages, characters, attachments, replies]
    messages: dict[tuple[int, int, int, int], list[int]] = field(default_factory=dict)
    # (guild, channel, user, emoji, kind) -> count (reactions carry no hour: compared without it)
    emojis: Counter[tuple[int, int, int, str, str]] = field(default_factory=Counter)

    def message(self, guild_id: int, hour: int, channel_id: int, user_id: int, text: str) -> None:
        row = self.messages.setdefault((guild_id, hour, channel_id, user_id), [0, 0, 0, 0])
        row[0] += 1
        row[1] += len(text)


def guild_id_on(sb: SandboxDiscord, shard: int) -> int:
    """A fresh guild id that Discord sends to ``shard`` of ``SHARDS``."""
    flake = sb.snowflake()
    high = flake >> 22
    return ((high - high % SHARDS + shard) << 22) | (flake & 0x3FFFFF)


def build(sb: SandboxDiscord) -> list[Community]:
    out = []
    for shard in range(SHARDS):
        for n in range(GUILDS_PER_SHARD):
            guild = sb.add_guild(f"Shard{shard}-{n}", guild_id=guild_id_on(sb, shard))
            text = sb.add_channel(guild, "general")
            voice = sb.add_channel(guild, "Lounge", kind=discord.ChannelType.voice)
            reports = sb.add_channel(guild, "reports")
            members = [sb.add_member(guild, f"m{shard}{n}{i}").user for i in range(3)]
            out.append(Community(guild, text, voice, reports, members))
    assert {c.shard for c in out} == set(range(SHARDS))
    return out


async def seed(storage: Storage, communities: list[Community], truth: Truth, now: datetime) -> None:
    """What each guild had before the bots start: a report channel, an event that ended two hours
    ago with a member in it, and messages last week (so that the weekly summary has something)."""
    engine = storage.engine
    event_start = (now - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    this_monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    last_week_hour = int((this_monday - timedelta(days=5)).timestamp())  # Wednesday noon of last week
    last_week_hour += 12 * HOUR
    counters: dict[CounterKey, int] = {}
    for c in communities:
        await update_settings(engine, c.guild.id, report_channel_id=c.reports.id, timezone="UTC")
        await add_event(
            engine,
            c.guild.id,
            start_time=event_start.strftime("%H:%M"),
            minutes=60,
            days=parse_days("every day"),
            channels={"ids": [c.voice.id]},
            now=now - timedelta(days=2),
        )
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(t.voice_sessions).values(
                    guild_id=c.guild.id,
                    user_id=c.members[0].id,
                    started_at=event_start - timedelta(minutes=5),
                    ended_at=event_start + timedelta(minutes=30),
                    channel_id=c.voice.id,
                    open=False,
                )
            )
        for user in c.members:
            counters[("msg", c.guild.id, last_week_hour, c.text.id, user.id, "messages")] = 3
            counters[("msg", c.guild.id, last_week_hour, c.text.id, user.id, "characters")] = 30
            row = truth.messages.setdefault((c.guild.id, last_week_hour, c.text.id, user.id), [0, 0, 0, 0])
            row[0] += 3
            row[1] += 30
    await BatchWriter(engine).apply(Batch("seed", counters=counters))


async def wave(sb: SandboxDiscord, truth: Truth, communities: list[Community], tag: str) -> None:
    """Messages with an emoji, a reaction and a short voice visit in each guild, then a barrier."""
    for c in communities:
        first = None
        for i, user in enumerate(c.members):
            text = f"{tag} {i} 🎉"
            m = await sb.send_message(c.text, user, text)
            hour = hour_of(discord.utils.snowflake_time(m.id).timestamp())
            truth.message(c.guild.id, hour, c.text.id, user.id, text)
            truth.emojis[(c.guild.id, c.text.id, user.id, "🎉", "message")] += 1
            first = first or m
        assert first is not None
        reactor = c.members[1]
        await sb.add_reaction(c.text, first.id, reactor, "👍")
        truth.emojis[(c.guild.id, c.text.id, reactor.id, "👍", "reaction")] += 1
        visitor = c.members[2]
        await sb.voice_update(c.guild, visitor, c.voice)
        await sb.barrier()
        await sb.voice_update(c.guild, visitor, None)
    await sb.barrier()


def bot_settings(sb: SandboxDiscord, storage: Storage, shards: tuple[int, ...], flush_s: str) -> dict[str, str | None]:
    return {
        "DISCORD_TOKEN": sb.token,
        "DISCORD_API_URL": sb.url,
        **storage.env(),
        "SHARD_COUNT": str(SHARDS),
        "SHARD_IDS": ",".join(map(str, shards)),
        "FLUSH_INTERVAL_SECONDS": flush_s,
        "LOG_LEVEL": "INFO",
    }


def posts(sb: SandboxDiscord, c: Community) -> Counter[str]:
    """The bot's posts in a guild's report channel, by kind (the image's file name)."""
    kinds: Counter[str] = Counter()
    for m in sb.messages_in(c.reports, by_bot=True):
        for a in m.payload.get("attachments", []):
            kinds[str(a.get("filename", "")).removesuffix(".png")] += 1
    return kinds


async def exported(storage: Storage, dataset: str, guild_id: int) -> list[tuple[Any, ...]]:
    """The rows ``/export`` streams for a guild over the last 30 days (db.export, as the command does)."""
    rows: list[tuple[Any, ...]] = []
    end = datetime.now(UTC) + timedelta(hours=2)
    async for chunk in stream_rows(storage.engine, dataset, guild_id, end - timedelta(days=30), end):
        rows += chunk
    return rows


async def test_two_shard_processes_count_everything_once_across_a_crash(
    sandbox: SandboxDiscord, timescale_storage: Storage, bots: Bots
) -> None:
    sb, storage = sandbox, timescale_storage
    communities = build(sb)
    truth = Truth()
    await seed(storage, communities, truth, datetime.now(UTC))
    of_b = [c for c in communities if c.shard in SPLIT[1]]

    a = await bots.start(bot_settings(sb, storage, SPLIT[0], "1"))
    # b flushes rarely: when it dies, its counters are only in Redis, next to a flushing a.
    b = await bots.start(bot_settings(sb, storage, SPLIT[1], "3600"))
    await a.wait_healthy(bots.http)
    await b.wait_healthy(bots.http)
    await wait_until(
        lambda: all(posts(sb, c) == Counter({"event_hour": 1, "weekly": 1}) for c in communities),
        "each guild's event-hour report and weekly summary, posted by the process of its shard",
        bot=a,
    )

    base = await b.wait_metrics(bots.http, lambda m: m["buffer_keys"] == 0, "b's start-up records pushed")
    await wave(sb, truth, communities, "wave1")
    await b.wait_metrics(
        bots.http,
        lambda m: m["buffer_keys"] == 0 and m["pushed_total"] > base["pushed_total"],
        "the first wave pushed to Redis by b",
    )
    # a flushes its own guilds meanwhile, and never b's.
    of_a = [c for c in communities if c.shard in SPLIT[0]]

    async def a_flushed() -> bool:
        # The seeded rows (one per member) and the first wave (another hour or more rows).
        for c in of_a:
            if len(await exported(storage, "messages", c.guild.id)) <= len(c.members):
                return False
        return True

    await wait_until(a_flushed, "a's guilds' first wave in the database", bot=a)
    for c in of_b:
        assert len(await exported(storage, "messages", c.guild.id)) == len(c.members), "b's guilds were flushed"
    await b.sigkill()

    b2 = await bots.start(bot_settings(sb, storage, SPLIT[1], "1"))
    await b2.wait_healthy(bots.http)
    await wave(sb, truth, communities, "wave2")
    for bot in (a, b2):
        rc = await bot.terminate()
        if rc != 0 or "Traceback" in bot.stderr():
            raise bot.fail(f"bot {bot.name} exited with {rc} after SIGTERM, or logged a traceback")
    assert sb.errors == []

    for c in communities:
        g = c.guild.id
        rows = await exported(storage, "messages", g)
        got = {(int(h.timestamp()), ch, u): [n, chars, att, rep] for h, ch, u, n, chars, att, rep in rows}
        want = {(h, ch, u): v for (gid, h, ch, u), v in truth.messages.items() if gid == g}
        assert got == want, f"guild {g} (shard {c.shard}) messages"
        emojis: Counter[tuple[int, int, int, str, str]] = Counter()
        for _h, ch, u, emoji, kind, n in await exported(storage, "emojis", g):
            emojis[(g, int(ch), int(u), str(emoji), str(kind))] += int(n)
        assert emojis == Counter({k: n for k, n in truth.emojis.items() if k[0] == g}), f"guild {g} emojis"
        live = [s for s in await voice_sessions(storage.engine, g) if s.user_id == c.members[2].id]
        assert len(live) == 2 and not any(s.open for s in live)
        voice = sum(sum(int(x) for x in row[3:]) for row in await exported(storage, "voice", g))
        assert voice == sum(s.seconds for s in live), f"guild {g} voice"
        assert posts(sb, c) == Counter({"event_hour": 1, "weekly": 1}), f"guild {g} posts"
    await rollups_consistent(storage.engine)

    flushed = await assert_each_process_flushed_its_own(storage, {a: SPLIT[0], b: SPLIT[1], b2: SPLIT[1]})
    assert flushed[a.proc.pid] and flushed[b2.proc.pid], flushed
    for bot in (a, b2):
        assert TAKEOVER not in bot.stderr(), f"bot {bot.name} took over another process's partition"


async def assert_each_process_flushed_its_own(
    storage: Storage, shards_of: dict[BotProcess, tuple[int, ...]]
) -> Counter[int]:
    """Every batch in the flush ledger came from a partition of the process named in its id; batches per pid."""
    by_pid = {bot.proc.pid: shards for bot, shards in shards_of.items()}
    async with storage.engine.connect() as conn:
        ids = [str(i) for i in (await conn.execute(sa.select(t.flush_ledger.c.batch_id))).scalars()]
    batch = re.compile(r"^(s\d+of\d+)/.+-(\d+)/[0-9a-f]{32}(#\d+/\d+)?$")
    seen: Counter[int] = Counter()
    for batch_id in ids:
        if batch_id.startswith("seed"):
            continue
        m = batch.match(batch_id)
        assert m is not None, f"unexpected batch id {batch_id}"
        part, pid = m.group(1), int(m.group(2))
        assert pid in by_pid, f"batch {batch_id} of an unknown process"
        assert part in {partition_name(s, SHARDS) for s in by_pid[pid]}, f"{batch_id}: another process's partition"
        seen[pid] += 1
    return seen
