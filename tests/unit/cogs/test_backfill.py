"""Backfill: history imported like live tracking, below the live boundary, resumable, never twice."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer.store import Batch
from cogs.backfill import Backfill, progress_bar
from cogs.emojis import EmojiTracker
from cogs.messages import MessageTracker
from db.backfill import progress
from db.flush import BatchWriter
from db.series import DAY
from tests.unit.cogs.harness import BOT_ID, T0, Harness, channel, guild, member, message

G = 150_000_000_000_000_001
TEXT = 150_000_000_000_000_010
OTHER = 150_000_000_000_000_011
THREAD = 150_000_000_000_000_012
ALICE = 250_000_000_000_000_001
BOB = 250_000_000_000_000_002
SOMEBOT = 250_000_000_000_000_009
READ = (1 << 10) | (1 << 16)  # view channel, read message history
NOW = T0 + 40 * DAY


class History:
    """Discord's side: the messages of each channel, served newest first like GET /messages."""

    def __init__(self) -> None:
        self.by_channel: dict[int, list[dict[str, Any]]] = {}
        self.fail_after: int | None = None
        self.calls = 0

    def add(self, payload: dict[str, Any]) -> None:
        self.by_channel.setdefault(int(payload["channel_id"]), []).append(payload)

    async def logs_from(
        self,
        channel_id: int,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[dict[str, Any]]:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise discord.HTTPException(_Resp(), "gateway timeout")
        msgs = sorted(self.by_channel.get(int(channel_id), []), key=lambda m: -int(m["id"]))
        if before is not None:
            msgs = [m for m in msgs if int(m["id"]) < int(before)]
        return msgs[:limit]

    async def archived(self, channel_id: int, before: Any = None, limit: int = 50) -> dict[str, Any]:
        return {"threads": [], "members": [], "has_more": False}


class _Resp:
    status = 504
    reason = "timeout"


def community(h: Harness, hist: History) -> list[dict[str, Any]]:
    """Messages over 40 days in two channels and a thread: text, emojis, replies, attachments, bots."""
    out: list[dict[str, Any]] = []
    texts = ["hello 🎉🎉", "<:party:123456789012345678> yes", "plain", "👨‍👩‍👧 ok ❤️", ""]
    for i in range(330):
        at = T0 + i * (40 * DAY // 330) + 7
        ch = (TEXT, OTHER, THREAD)[i % 3]
        author = (ALICE, BOB, SOMEBOT)[i % 5 % 3]
        p = message(
            h.new_id(at),
            ch,
            G,
            author,
            texts[i % len(texts)],
            bot=author == SOMEBOT,
            attachments=i % 4 == 0,
            reply_to=out[-1]["id"] and int(out[-1]["id"]) if i % 7 == 0 and out else None,
            type=7 if i % 50 == 49 else 0,
        )
        out.append(p)
        hist.add(p)
    return out


async def start(h: Harness, hist: History, engine: AsyncEngine) -> Backfill:
    h.clock.t = NOW
    h.bot.engine = engine
    h.bot.http.logs_from = hist.logs_from  # type: ignore[method-assign, assignment]
    h.bot.http.get_public_archived_threads = hist.archived  # type: ignore[method-assign, assignment]
    await h.bot.add_cog(MessageTracker(h.bot))
    await h.bot.add_cog(EmojiTracker(h.bot))
    cog = Backfill(h.bot)
    await h.bot.add_cog(cog)
    await h.feed(
        "GUILD_CREATE",
        guild(
            G,
            channels=[channel(TEXT, G), channel(OTHER, G)],
            threads=[channel(THREAD, G, type=11, parent_id=TEXT)],
            members=[member(ALICE), member(BOB), member(SOMEBOT, bot=True), member(BOT_ID, bot=True)],
            everyone_permissions=READ,
        ),
    )
    return cog


def counts(h: Harness) -> dict[tuple[Any, ...], int]:
    return {k: v for k, v in h.counters.items() if k[0] in ("msg", "emoji")}


async def flush(h: Harness, engine: AsyncEngine, batch_id: str) -> dict[tuple[Any, ...], int]:
    """Write what the bot holds to the database (the flusher's job), returning its counters."""
    snap = h.bot.counters.take()
    if snap is None:
        return {}
    await BatchWriter(engine).apply(Batch(batch_id, snap.counters, snap.records))
    return {k: v for k, v in snap.counters.items() if k[0] in ("msg", "emoji")}


async def live_counts(payloads: list[dict[str, Any]]) -> dict[tuple[Any, ...], int]:
    """What live tracking counts for the same messages."""
    h = Harness()
    await h.start()
    await h.bot.add_cog(MessageTracker(h.bot))
    await h.bot.add_cog(EmojiTracker(h.bot))
    await h.feed(
        "GUILD_CREATE",
        guild(
            G,
            channels=[channel(TEXT, G), channel(OTHER, G)],
            threads=[channel(THREAD, G, type=11, parent_id=TEXT)],
            members=[member(ALICE), member(BOB), member(SOMEBOT, bot=True)],
        ),
    )
    for p in payloads:
        await h.feed("MESSAGE_CREATE", p)
    out = counts(h)
    await h.stop()
    return out


def add(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


async def run(cog: Backfill, days: int = 30, target: Any = None) -> list[str]:
    texts: list[str] = []

    async def report(text: str) -> None:
        texts.append(text)

    guild_ = cog.bot.get_guild(G)
    assert guild_ is not None
    await cog.run_backfill(guild_, target, days, report)
    return texts


@pytest.fixture
async def h(harness: Harness) -> Harness:
    return harness


async def test_backfill_counts_exactly_like_live_tracking(h: Harness, engine: AsyncEngine) -> None:
    hist = History()
    payloads = community(h, hist)
    cog = await start(h, hist, engine)
    texts = await run(cog, days=30)
    since = NOW - 30 * DAY
    in_range = [p for p in payloads if discord.utils.snowflake_time(int(p["id"])).timestamp() >= since]
    assert counts(h) == await live_counts(in_range)
    assert texts[-1].startswith("Backfill finished: last 30 days, 3/3 channels")
    assert "[████████████████████] 100 %" in texts[-1]
    recs = h.kind("backfill")
    assert {k[2] for k in recs} == {TEXT, OTHER, THREAD}
    assert all(v[2] == 0 for v in recs.values())  # older history exists: not done
    assert h.kind("channel")[("channel", G, THREAD)][0] == TEXT


async def test_only_messages_older_than_live_tracking_are_imported(h: Harness, engine: AsyncEngine) -> None:
    hist = History()
    payloads = community(h, hist)
    cog = await start(h, hist, engine)
    # Live tracking saw the last 30 messages of the channels as they came.
    for p in payloads[-30:]:
        await h.feed("MESSAGE_CREATE", p)
    live = counts(h)
    await run(cog, days=40)
    assert counts(h) == await live_counts(payloads)
    assert live  # and those 30 were not counted again


async def test_interrupted_backfill_resumes_after_restart_without_double_counting(
    h: Harness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hist = History()
    payloads = community(h, hist)
    # Small pages so the import takes several pages per channel.
    monkeypatch.setattr("cogs.backfill.PAGE", 20)
    cog = await start(h, hist, engine)
    hist.fail_after = 5  # Discord stops answering part way through
    texts = await run(cog, days=40)
    assert "Skipped" in texts[-1]
    first = await flush(h, engine, "run-1")
    stored = await progress(engine, G)
    assert stored and any(not p.done for p in stored.values())
    await h.stop()

    # A restart: a new bot with the same database runs the command again.
    h2 = Harness()
    await h2.start()
    hist.fail_after = None
    cog2 = await start(h2, hist, engine)
    await run(cog2, days=40)
    second = await flush(h2, engine, "run-2")
    await h2.stop()
    assert add(first, second) == await live_counts(payloads)
    assert all(p.done for p in (await progress(engine, G)).values())


async def test_a_longer_backfill_continues_below_the_shorter_one(h: Harness, engine: AsyncEngine) -> None:
    hist = History()
    payloads = community(h, hist)
    cog = await start(h, hist, engine)
    await run(cog, days=10)
    await run(cog, days=10)  # run again in the same process: nothing new
    await run(cog, days=40)
    assert counts(h) == await live_counts(payloads)


async def test_one_channel_only(h: Harness, engine: AsyncEngine) -> None:
    hist = History()
    payloads = community(h, hist)
    cog = await start(h, hist, engine)
    await run(cog, days=40, target=h.bot.get_channel(OTHER))
    assert counts(h) == await live_counts([p for p in payloads if int(p["channel_id"]) == OTHER])


def test_progress_bar() -> None:
    assert progress_bar(0, 4, width=4) == "[░░░░] 0 %"
    assert progress_bar(1, 4, width=4) == "[█░░░] 25 %"
    assert progress_bar(3, 3, width=4) == "[████] 100 %"


# -- the command's answers to bad input -------------------------------------------------------


def interaction_for(h: Harness, *, permissions: int) -> discord.Interaction:
    data = {
        "id": str(h.new_id()),
        "application_id": str(BOT_ID),
        "type": 2,
        "token": "tok",
        "version": 1,
        "data": {"id": "1", "name": "backfill", "type": 1},
        "guild_id": str(G),
        "channel_id": str(TEXT),
        "channel": {"id": str(TEXT), "type": 0, "guild_id": str(G), "name": "general", "position": 0},
        "member": {**member(ALICE), "permissions": str(permissions)},
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(G)},
        "context": 0,
        "attachment_size_limit": 8_000_000,
    }
    return discord.Interaction(data=data, state=h.bot._connection)  # type: ignore[arg-type]


async def test_bad_input_gets_one_short_sentence(h: Harness, engine: AsyncEngine) -> None:
    cog = await start(h, History(), engine)
    manage = 1 << 5
    ok = interaction_for(h, permissions=manage)
    for days in (0, -3, 366):
        error, _ = cog.validate(ok, days, None)
        assert error == "Days must be between 1 and 365."
    error, _ = cog.validate(interaction_for(h, permissions=0), 30, None)
    assert error == "You need the Manage Server permission to run a backfill."
    unknown = discord.Object(id=150_000_000_000_000_999)
    error, _ = cog.validate(ok, 30, unknown)  # type: ignore[arg-type]
    assert error is not None and "can't find" in error
    assert all(len(e) <= 200 for e in [error])
    error, target = cog.validate(ok, 30, discord.Object(id=THREAD))  # type: ignore[arg-type]
    assert error is None and target is not None and target.id == THREAD


async def test_counts_stored_by_an_earlier_run_set_the_boundary_at_their_first_message(
    h: Harness, engine: AsyncEngine
) -> None:
    hist = History()
    payloads = community(h, hist)
    # An earlier run counted the last 60 messages live and its counts were flushed.
    earlier = Harness()
    await earlier.start()
    await earlier.bot.add_cog(MessageTracker(earlier.bot))
    await earlier.bot.add_cog(EmojiTracker(earlier.bot))
    await earlier.feed(
        "GUILD_CREATE",
        guild(
            G,
            channels=[channel(TEXT, G), channel(OTHER, G)],
            threads=[channel(THREAD, G, type=11, parent_id=TEXT)],
            members=[member(ALICE), member(BOB), member(SOMEBOT, bot=True)],
        ),
    )
    for p in payloads[-60:]:
        await earlier.feed("MESSAGE_CREATE", p)
    live = await flush(earlier, engine, "earlier-run")
    await earlier.stop()

    cog = await start(h, hist, engine)
    await run(cog, days=40)
    imported = counts(h)
    # Nothing counted twice, nothing left out: the import stops at each channel's first message
    # counted live (its stored mark), so the earlier part of that first live hour is imported too.
    assert live
    firsts: dict[int, int] = {}  # channel id -> the first message id counted live
    for p in payloads[-60:]:
        if not p["author"].get("bot") and p.get("type", 0) in (0, 19):
            c = int(p["channel_id"])
            firsts[c] = min(firsts.get(c, int(p["id"])), int(p["id"]))
    older = [p for p in payloads if int(p["id"]) < firsts[int(p["channel_id"])]]
    assert 200 < len(older) < len(payloads)
    assert imported == await live_counts(older)


async def test_messages_of_the_first_live_hour_sent_before_the_bot_started_are_imported(
    h: Harness, engine: AsyncEngine
) -> None:
    hist = History()
    hour = NOW - 2 * DAY - (NOW - 2 * DAY) % 3600
    before = message(h.new_id(hour + 600), TEXT, G, ALICE, "before the start 🎉")
    after = message(h.new_id(hour + 1800), TEXT, G, BOB, "first live")
    hist.add(before)
    hist.add(after)
    # An earlier run started at hour + 20 min and counted only the second message live.
    earlier = Harness()
    await earlier.start()
    await earlier.bot.add_cog(MessageTracker(earlier.bot))
    await earlier.feed(
        "GUILD_CREATE", guild(G, channels=[channel(TEXT, G), channel(OTHER, G)], members=[member(ALICE), member(BOB)])
    )
    await earlier.feed("MESSAGE_CREATE", after)
    live = await flush(earlier, engine, "earlier-run")
    await earlier.stop()
    assert live

    cog = await start(h, hist, engine)
    await run(cog, days=5)
    assert counts(h) == await live_counts([before]), "the hour's earlier message is imported, the live one not"
