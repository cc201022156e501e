"""Ingest benchmark: the tracking cogs on discord.py's real MESSAGE_CREATE path, against a no-op listener.

Throughput: MESSAGE_CREATE payloads (emojis, replies, attachments, threads) are
JSON-decoded from bytes and fed to the ConnectionState parser, which builds the
Message and dispatches it; listener tasks run as the gateway reader would let
them (one loop turn per event). Measured once with every tracking cog loaded and
once with a single no-op ``on_message`` listener, in the same run, alternating.

Memory: each case in its own subprocess (no shared heap): 100,000 cached members,
1,000 of them in voice, some message traffic, the counter buffer taken as the
pusher would; resident memory from /proc/self/statm.

Run from the repository root: ``.venv/bin/python bench/ingest.py``. Prints both
rates, their ratio (target ≥ 0.85), both RSS figures and their ratio (target:
tracking adds ≤ 20 %), then one line of JSON.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
from discord.ext import commands  # noqa: E402

from bot.app import StatsBot  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.tracking.snowflakes import snowflake_at  # noqa: E402
from sandbox.payloads import member_payload, user_payload  # noqa: E402
from sandbox.state import SandboxMember, SandboxUser  # noqa: E402

G = 500_000_000_000_000_001
BOT_ID = 500_000_000_000_000_002
CHANNELS = [500_000_000_000_001_000 + i for i in range(20)]
THREADS = [500_000_000_000_002_000 + i for i in range(10)]
VOICE = [500_000_000_000_003_000 + i for i in range(10)]
USER0 = 600_000_000_000_000_000
EVENTS = 30_000
CHUNK = 1_000
ROUNDS = 5
MEMBERS = 100_000
IN_VOICE = 1_000
T0 = 1_795_000_000

TEXTS = [
    "good morning everyone 🎉🎉",
    "has anyone tried the new build? it crashes on start for me",
    "<:party:700000000000000001> <a:dance:700000000000000002> let's go",
    "lol 😂😂😂",
    "ok",
    "ça marche, merci beaucoup 👍🏽",
    "the family emoji 👨‍👩‍👧 and a heart ❤️",
    "https://example.com/some/long/link?with=query&and=more look at this",
    "Здравствуйте! как дела?",
    "I think we should meet at 21:00 for the event, who's in?",
]


class NoOp(commands.Cog):
    """The baseline: one listener that does nothing."""

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        return None


JOINED = datetime(2026, 1, 1, tzinfo=UTC)


def user(uid: int, *, bot: bool = False) -> dict[str, Any]:
    return user_payload(SandboxUser(uid, f"u{uid % 100000}", bot=bot))


def member(uid: int, *, with_user: bool = True) -> dict[str, Any]:
    return member_payload(SandboxMember(SandboxUser(uid, f"u{uid % 100000}"), joined_at=JOINED), with_user=with_user)


def guild_payload(members: list[dict[str, Any]], member_count: int) -> dict[str, Any]:
    chans: list[dict[str, Any]] = [
        {"id": str(c), "type": 0, "guild_id": str(G), "name": f"text-{i}", "position": i, "permission_overwrites": []}
        for i, c in enumerate(CHANNELS)
    ]
    chans += [
        {
            "id": str(c),
            "type": 2,
            "guild_id": str(G),
            "name": f"voice-{i}",
            "position": i,
            "permission_overwrites": [],
            "bitrate": 64000,
            "user_limit": 0,
        }
        for i, c in enumerate(VOICE)
    ]
    threads = [
        {
            "id": str(t),
            "type": 11,
            "guild_id": str(G),
            "name": f"thread-{i}",
            "parent_id": str(CHANNELS[i]),
            "owner_id": str(USER0),
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": "2026-01-01T00:00:00+00:00",
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        for i, t in enumerate(THREADS)
    ]
    return {
        "id": str(G),
        "name": "bench",
        "owner_id": str(USER0),
        "roles": [
            {
                "id": str(G),
                "name": "@everyone",
                "permissions": "0",
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "afk_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "system_channel_flags": 0,
        "emojis": [],
        "stickers": [],
        "features": [],
        "channels": chans,
        "threads": threads,
        "members": members,
        "voice_states": [],
        "member_count": member_count,
        "unavailable": False,
    }


def message_create(message_id: int, channel_id: int, guild_id: int, content: str, author: int) -> dict[str, Any]:
    """A plain MESSAGE_CREATE payload of a member's message, as the gateway sends it."""
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "guild_id": str(guild_id),
        "type": 0,
        "content": content,
        "author": user(author),
        "member": member(author, with_user=False),
        "timestamp": "2026-11-19T08:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "flags": 0,
    }


def message_payloads(n: int, authors: int) -> list[bytes]:
    """Encoded MESSAGE_CREATE payloads: a realistic mix of content, replies, attachments and threads."""
    rnd = random.Random(7)
    out: list[bytes] = []
    base = snowflake_at(T0)
    for i in range(n):
        mid = base + (i << 22) + i
        ch = rnd.choice(THREADS) if rnd.random() < 0.2 else rnd.choice(CHANNELS)
        author = USER0 + rnd.randrange(authors)
        data = message_create(mid, ch, G, rnd.choice(TEXTS), author)
        if rnd.random() < 0.15:
            data["attachments"] = [
                {
                    "id": str(mid + 1),
                    "filename": "pic.png",
                    "size": 1000,
                    "url": "https://cdn.example/pic.png",
                    "proxy_url": "https://cdn.example/pic.png",
                }
            ]
        if rnd.random() < 0.25:
            data["type"] = 19
            data["message_reference"] = {
                "type": 0,
                "message_id": str(mid - 5),
                "channel_id": str(ch),
                "guild_id": str(G),
            }
        out.append(json.dumps(data).encode())
    return out


async def make_bot(tracking: bool) -> StatsBot:
    """A bot wired like production (no network), with tracking cogs or a no-op listener."""
    from cogs import TRACKING_EXTENSIONS

    bot = StatsBot(load_settings(DISCORD_TOKEN=None), extensions=(), clock=lambda: float(T0))
    await bot._async_setup_hook()
    state = bot._connection
    state.user = discord.ClientUser(state=state, data=user(BOT_ID, bot=True))  # type: ignore[arg-type]
    state.application_id = BOT_ID
    if tracking:
        for ext in TRACKING_EXTENSIONS:
            await bot.load_extension(ext)
    else:
        await bot.add_cog(NoOp())
    return bot


async def feed_guild(bot: StatsBot, members: int, in_voice: int) -> None:
    state = bot._connection
    state.parsers["GUILD_CREATE"](guild_payload([member(USER0 + i) for i in range(min(members, 1000))], members))
    for start in range(1000, members, 1000):
        chunk = [member(USER0 + i) for i in range(start, min(members, start + 1000))]
        state.parsers["GUILD_MEMBERS_CHUNK"]({"guild_id": str(G), "members": chunk, "chunk_index": 0, "chunk_count": 1})
    for i in range(in_voice):
        state.parsers["VOICE_STATE_UPDATE"](
            {
                "guild_id": str(G),
                "channel_id": str(VOICE[i % len(VOICE)]),
                "user_id": str(USER0 + i),
                "session_id": "s",
                "deaf": False,
                "mute": False,
                "self_deaf": False,
                "self_mute": i % 3 == 0,
                "self_stream": False,
                "self_video": False,
                "suppress": False,
                "member": member(USER0 + i),
            }
        )
        if i % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0)


async def pump(bot: StatsBot, payloads: list[bytes]) -> float:
    """Feed payloads (decode, parse, dispatch, one loop turn each); CPU seconds taken.

    CPU time of this process, not wall time: the machine is shared, and other
    processes' load must not decide the ratio.
    """
    parse = bot._connection.parsers["MESSAGE_CREATE"]
    loads = discord.utils._from_json
    sleep = asyncio.sleep
    t = time.process_time()
    for raw in payloads:
        parse(loads(raw))
        await sleep(0)
    await sleep(0)
    return time.process_time() - t


async def throughput() -> tuple[float, float]:
    """Events per CPU second of both bots, fed the same chunks in alternation.

    Each chunk's time is the best of ROUNDS tries (the least disturbed), summed
    over the chunks; the buffer is taken between chunks, as the pusher does.
    """
    payloads = message_payloads(EVENTS, authors=2000)
    chunks = [payloads[i : i + CHUNK] for i in range(0, len(payloads), CHUNK)]
    bots = {name: await make_bot(name == "tracking") for name in ("tracking", "noop")}
    for b in bots.values():
        await feed_guild(b, 2000, 0)
        await pump(b, chunks[0])  # warm caches
        b.counters.take()
    best: dict[str, list[float]] = {name: [float("inf")] * len(chunks) for name in bots}
    for r in range(ROUNDS):
        order = list(bots) if r % 2 == 0 else list(reversed(bots))
        for i, chunk in enumerate(chunks):
            for name in order:
                b = bots[name]
                best[name][i] = min(best[name][i], await pump(b, chunk))
                b.counters.take()
    for b in bots.values():
        for name in list(b.cogs):
            await b.remove_cog(name)
    return EVENTS / sum(best["tracking"]), EVENTS / sum(best["noop"])


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def memory(case: str) -> float:
    bot = await make_bot(case == "tracking")
    await feed_guild(bot, MEMBERS, IN_VOICE)
    await pump(bot, message_payloads(5_000, authors=MEMBERS))
    bot.counters.take()  # what the pusher does every second
    gc.collect()
    return rss_mb()


def measure_rss(case: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--rss", case], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--rss":
        print(asyncio.run(memory(sys.argv[2])))
        return
    tracking, noop = asyncio.run(throughput())
    ratio = tracking / noop
    print(f"MESSAGE_CREATE with tracking cogs: {tracking:,.0f} events/s")
    print(f"MESSAGE_CREATE with a no-op listener: {noop:,.0f} events/s")
    print(f"ratio: {ratio:.3f} (target >= 0.85)")
    rss_t = measure_rss("tracking")
    rss_b = measure_rss("baseline")
    over = rss_t / rss_b - 1
    print(f"RSS, {MEMBERS:,} members, {IN_VOICE:,} in voice: tracking {rss_t:.1f} MB, baseline {rss_b:.1f} MB")
    print(f"tracking adds {over * 100:.1f} % (target <= 20 %)")
    print(
        json.dumps(
            {
                "events_per_s_tracking": round(tracking),
                "events_per_s_noop": round(noop),
                "ratio_vs_noop": round(ratio, 3),
                "rss_mb_tracking": round(rss_t, 1),
                "rss_mb_baseline": round(rss_b, 1),
                "rss_overhead_ratio": round(over, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
