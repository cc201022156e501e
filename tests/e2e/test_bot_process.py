"""The real bot, ``python -m bot run``, as a subprocess against the offline Discord.

The bot is configured only by environment variables; the sandbox runs in this process. Each
test builds a community, drives events through the gateway, stops the bot (SIGTERM) or crashes
it (SIGKILL), and reads the database to compare exact figures with what it sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import discord
import pytest

from db.series import hour_of
from sandbox import CustomEmoji, SandboxChannel, SandboxDiscord, SandboxUser, StoredFile, StoredMessage
from tests.e2e.conftest import Storage
from tests.e2e.harness import BotProcess, Bots, wait_until
from tests.e2e.stored import (
    Join,
    channel_parents,
    emoji_rows,
    live_message_rows,
    member_joins,
    message_rows,
    voice_seconds,
    voice_sessions,
)
from tests.support.counts import rollups_consistent

pytestmark = pytest.mark.e2e


def bot_settings(sb: SandboxDiscord, storage: Storage, **extra: str) -> dict[str, str | None]:
    """The whole configuration of a bot process (METRICS_PORT is added by ``Bots.start``)."""
    return {
        "DISCORD_TOKEN": sb.token,
        "DISCORD_API_URL": sb.url,
        **storage.env(),
        "FLUSH_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def message_hour(message: StoredMessage) -> int:
    """The UTC hour of a message's snowflake."""
    return hour_of(discord.utils.snowflake_time(message.id).timestamp())


def completed_requests(sb: SandboxDiscord, method: str, path: str) -> int:
    """How many requests to ``path`` the sandbox has answered."""
    return sum(1 for r in sb.requests if r.method == method and r.path == path and r.status)


def assert_clean_exit(bot: BotProcess, rc: int) -> None:
    if rc != 0 or "Traceback" in bot.stderr():
        raise bot.fail(f"bot {bot.name} exited with {rc} after SIGTERM, or logged a traceback")


@dataclass
class Expected:
    """What the database must hold, computed from what the test sent."""

    messages: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    emojis: Counter[tuple[int, int, int, str, str]] = field(default_factory=Counter)
    # Reactions count in the hour the bot received them: kept without the hour.
    reactions: Counter[tuple[int, int, str]] = field(default_factory=Counter)

    def counted(self, message: StoredMessage, emojis: Sequence[str] = ()) -> None:
        """A member's message that counts, with the emojis it contains (as stored)."""
        key = (message_hour(message), message.channel_id, message.author_id)
        row = self.messages.setdefault(key, [0, 0, 0, 0])
        row[0] += 1
        row[1] += len(message.content)  # code points
        row[2] += len(message.payload["attachments"])
        row[3] += message.payload.get("message_reference") is not None
        for e in emojis:
            self.emojis[(*key, e, "message")] += 1

    def stored_messages(self) -> dict[tuple[int, int, int], tuple[int, int, int, int]]:
        return {k: (n, c, a, r) for k, (n, c, a, r) in self.messages.items()}


async def send_wave(
    sb: SandboxDiscord,
    expected: Expected,
    tag: str,
    channels: Sequence[SandboxChannel],
    authors: Sequence[SandboxUser],
) -> None:
    """A few members' messages in each channel: emojis, a reply, an attachment; then a barrier."""
    for i, channel in enumerate(channels):
        first: StoredMessage | None = None
        for j, author in enumerate(authors):
            content = f"{tag} {i}.{j} 🎉 <:blob:{444_444_444_444_444_000 + j}>"
            m = await sb.send_message(
                channel,
                author,
                content,
                reply_to=first if j == 1 else None,
                attachments=[StoredFile(f"{tag}.png", b"png")] if j == 2 else (),
            )
            expected.counted(m, ["🎉", f"<:blob:{444_444_444_444_444_000 + j}>"])
            first = first or m
    await sb.barrier()


# 1 ---------------------------------------------------------------------------------------------


async def test_everything_sent_is_counted_once_and_sigterm_flushes_it(
    sandbox: SandboxDiscord, storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    guild = sb.add_guild("Community", vanity_code="community")
    general = sb.add_channel(guild, "general")
    random_ = sb.add_channel(guild, "random")
    lounge = sb.add_channel(guild, "Lounge", kind=discord.ChannelType.voice)
    afk = sb.add_channel(guild, "AFK", kind=discord.ChannelType.voice, afk=True)
    alice, bob, carol, dave, erin, fay = (
        sb.add_member(guild, name).user for name in ("alice", "bob", "carol", "dave", "erin", "fay")
    )
    thread = sb.add_thread(general, "help", owner=dave)
    helper = sb.add_member(guild, "helperbot", bot=True).user
    hook_author = sb.add_user("hook-author")  # not a bot: only its webhook_id keeps it out
    sb.add_invite(guild, general, alice, code="alice-inv")
    sb.add_invite(guild, general, bob, code="bob-once", max_uses=1)
    looks = f"/guilds/{guild.id}/vanity-url"  # the last request of each look at the invites

    bot = await bots.start_healthy(bot_settings(sb, storage))
    await wait_until(lambda: completed_requests(sb, "GET", looks) >= 1, "the first look at the invites", bot=bot)

    # Voice: bob in a voice channel (alone), carol in the AFK channel (never counted).
    await sb.voice_update(guild, bob, lounge)
    await sb.voice_update(guild, carol, afk)

    ex = Expected()
    blob, dance = "<:blob:111111111111111111>", "<a:dance:222222222222222222>"
    m1 = await sb.send_message(general, alice, "hello everyone 🎉🎉")
    ex.counted(m1, ["🎉", "🎉"])
    m2 = await sb.send_message(general, bob, f"hi {blob} and {dance}", reply_to=m1)
    ex.counted(m2, [blob, dance])
    m3 = await sb.send_message(
        general, carol, "two photos", attachments=[StoredFile("a.png", b"a"), StoredFile("b.jpg", b"bb")]
    )
    ex.counted(m3)
    m4 = await sb.send_message(random_, alice, "Grüße aus Köln ❤️ 👍🏽 ok")  # ❤️ is stored without U+FE0F
    ex.counted(m4, ["❤", "👍🏽"])
    m5 = await sb.send_message(thread, dave, "in the thread 👩‍💻")
    ex.counted(m5, ["👩‍💻"])
    m6 = await sb.send_message(thread, alice, "answer", reply_to=m5, attachments=[StoredFile("log.txt", b"x")])
    ex.counted(m6)
    m7 = await sb.send_message(general, erin, "", attachments=[StoredFile("only.gif", b"g")])
    ex.counted(m7)
    m8 = await sb.send_message(general, fay, f"ping <@{bob.id}> 🎉", mentions=[bob])
    ex.counted(m8, ["🎉"])
    # Never counted: a webhook message, a bot's message, a system message (member join notice).
    await sb.send_message(general, hook_author, "from a webhook 🎉", webhook_id=str(sb.snowflake()))
    await sb.send_message(general, helper, "I am a bot 🎉 <:blob:111111111111111111>")
    await sb.send_message(general, alice, "", type=7)
    # Edits and deletions change nothing.
    await sb.edit_message(general, m1.id, "edited 🎉🎉🎉 and longer")
    await sb.delete_message(general, m3.id)

    pog = CustomEmoji(333333333333333333, "pog")
    reactions_from = hour_of(time.time())
    for channel, message, user, emoji, stored_as in (
        (general, m1, bob, "🎉", "🎉"),
        (general, m1, carol, pog, "<:pog:333333333333333333>"),
        (general, m2, alice, "🎉", "🎉"),
        (thread, m5, alice, "❤️", "❤"),
        (general, m1, dave, "🎉", "🎉"),
    ):
        await sb.add_reaction(channel, message.id, user, emoji)
        ex.reactions[(channel.id, user.id, stored_as)] += 1
    await sb.add_reaction(general, m1.id, helper, "🎉")  # a bot's reaction
    await sb.remove_reaction(general, m1.id, dave, "🎉")  # removals do not subtract
    await sb.barrier()

    # Joins, one at a time (two joins between two looks would be "unknown"): an invite, an
    # invite used up by the join (it vanishes), one created while the bot runs, the vanity URL.
    await sb.create_invite(guild, random_, carol, code="carol-new")
    await sb.barrier()
    joins: dict[int, Join] = {}
    for n, (name, code, inviter) in enumerate(
        (("gus", "alice-inv", alice), ("hana", "bob-once", bob), ("ivo", "carol-new", carol), ("jo", None, None)),
        start=2,
    ):
        member = await sb.member_join(guild, name, invite=code, vanity=code is None)

        def looked(n: int = n) -> bool:  # n bound now, as the loop moves on
            return completed_requests(sb, "GET", looks) >= n

        await wait_until(looked, f"the look at the invites after {name} joined", bot=bot)
        joined_at = int(member.joined_at.timestamp())
        joins[member.user.id] = Join(member.user.id, joined_at, code or "vanity", inviter.id if inviter else None)
    await sb.member_join(guild, sb.add_user("otherbot", bot=True))  # bots are never recorded
    m9 = await sb.send_message(general, bob, "last one 🎉")
    ex.counted(m9, ["🎉"])
    await sb.barrier()

    rc = await bot.terminate()
    reactions_to = hour_of(time.time())
    assert_clean_exit(bot, rc)
    assert sb.errors == [] and sb.unknown_routes == []

    engine = storage.engine
    assert await message_rows(engine, guild.id) == ex.stored_messages()
    emojis = await emoji_rows(engine, guild.id)
    assert Counter({k: n for k, n in emojis.items() if k[4] == "message"}) == ex.emojis
    reactions: Counter[tuple[int, int, str]] = Counter()
    for (hour, channel_id, user_id, emoji, kind), n in emojis.items():
        if kind == "reaction":
            assert reactions_from <= hour <= reactions_to
            reactions[(channel_id, user_id, emoji)] += n
    assert reactions == ex.reactions
    assert await member_joins(engine, guild.id) == joins
    parents = await channel_parents(engine, guild.id)
    assert parents[thread.id] == general.id and parents[general.id] is None

    sessions = await voice_sessions(engine, guild.id)
    assert [(s.user_id, s.channel_id, s.open) for s in sessions] == [(bob.id, lounge.id, False)]
    assert await voice_seconds(engine, guild.id) == Counter(
        {bob.id: sessions[0].seconds} if sessions[0].seconds else {}
    )
    await rollups_consistent(engine)


# 2 ---------------------------------------------------------------------------------------------


def community(sb: SandboxDiscord) -> tuple[int, list[SandboxChannel], list[SandboxUser]]:
    guild = sb.add_guild("Crashy")
    general = sb.add_channel(guild, "general")
    thread = sb.add_thread(general, "thread")
    users = [sb.add_member(guild, name).user for name in ("ann", "ben", "cat")]
    return guild.id, [general, thread], users


async def test_sigkill_after_flush_loses_and_doubles_nothing(
    sandbox: SandboxDiscord, storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    guild_id, channels, users = community(sb)
    settings = bot_settings(sb, storage)
    ex = Expected()

    first = await bots.start_connected(settings, sb)
    base = await first.wait_metrics(bots.http, lambda m: m["buffer_keys"] == 0, "the start-up records pushed")
    await send_wave(sb, ex, "wave1", channels, users)
    await first.wait_metrics(
        bots.http,
        lambda m: (
            m["buffer_keys"] == 0
            and m["pushed_total"] > base["pushed_total"]
            and m["flush_entries_total"] > base["flush_entries_total"]
        ),
        "the first wave pushed and flushed",
    )

    async def wave1_stored() -> bool:
        return await message_rows(storage.engine, guild_id) == ex.stored_messages()

    await wait_until(wave1_stored, "the first wave in the database", bot=first)
    await first.sigkill()

    second = await bots.start_connected(settings, sb)
    await send_wave(sb, ex, "wave2", channels, users)
    assert_clean_exit(second, await second.terminate())

    assert await message_rows(storage.engine, guild_id) == ex.stored_messages()
    assert await emoji_rows(storage.engine, guild_id) == ex.emojis
    await rollups_consistent(storage.engine)


async def test_sigkill_after_push_before_flush_keeps_the_wave_in_redis(
    sandbox: SandboxDiscord, timescale_storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    storage = timescale_storage
    guild_id, channels, users = community(sb)
    ex = Expected()

    first = await bots.start_connected(bot_settings(sb, storage, FLUSH_INTERVAL_SECONDS="3600"), sb)
    # The start-up catch-up flushes the buffer once (it reads the ranges from the database): after it, nothing does.
    base = await first.wait_metrics(
        bots.http,
        lambda m: m["buffer_keys"] == 0 and m.get("catchup_guilds_done_total", 0) >= 1,
        "the start-up records pushed and the start-up catch-up done",
    )
    await send_wave(sb, ex, "wave1", channels, users)
    pushed = await first.wait_metrics(
        bots.http,
        lambda m: m["buffer_keys"] == 0 and m["pushed_total"] > base["pushed_total"],
        "the first wave pushed to Redis",
    )
    assert pushed["flush_entries_total"] == base["flush_entries_total"]
    # The pushed total also moves for records pushed after the start: the wave itself must be in
    # Redis (not in a push still in flight) when the bot dies.
    redis_url = storage.redis_url
    assert redis_url is not None
    wave1 = ex.stored_messages()

    async def wave1_in_redis() -> bool:
        return await live_message_rows(redis_url, guild_id) == wave1

    await wait_until(wave1_in_redis, "the first wave in Redis", bot=first)
    assert await message_rows(storage.engine, guild_id) == {}, "flushed although FLUSH_INTERVAL_SECONDS=3600"
    await first.sigkill()

    second = await bots.start_connected(bot_settings(sb, storage), sb)
    await send_wave(sb, ex, "wave2", channels, users)
    assert_clean_exit(second, await second.terminate())

    assert await message_rows(storage.engine, guild_id) == ex.stored_messages()
    assert await emoji_rows(storage.engine, guild_id) == ex.emojis
    await rollups_consistent(storage.engine)


# 3 ---------------------------------------------------------------------------------------------


async def test_voice_across_a_crash_loses_under_60s_and_invents_nothing(
    sandbox: SandboxDiscord, storage: Storage, bots: Bots
) -> None:
    sb = sandbox
    guild = sb.add_guild("Voice")
    sb.add_channel(guild, "general")
    lounge = sb.add_channel(guild, "Lounge", kind=discord.ChannelType.voice)
    sb.add_channel(guild, "AFK", kind=discord.ChannelType.voice, afk=True)
    leaver, stayer, _ = (sb.add_member(guild, name).user for name in ("lea", "stan", "otto"))
    settings = bot_settings(sb, storage)

    first = await bots.start_healthy(settings)
    joined = time.time()
    await sb.voice_update(guild, leaver, lounge)
    await sb.voice_update(guild, stayer, lounge)
    await sb.barrier()

    async def both_open() -> bool:
        return {(s.user_id, s.open) for s in await voice_sessions(storage.engine, guild.id)} == {
            (leaver.id, True),
            (stayer.id, True),
        }

    await wait_until(both_open, "both open sessions in the database", bot=first)
    await first.sigkill()
    # While the bot is down the leaver leaves: the next GUILD_CREATE has only the stayer in voice.
    await sb.voice_update(guild, leaver, None)
    left = time.time()

    second = await bots.start_healthy(settings)
    rc = await second.terminate()
    exited = time.time()
    assert_clean_exit(second, rc)

    sessions = await voice_sessions(storage.engine, guild.id)
    seconds = await voice_seconds(storage.engine, guild.id)
    assert all(not s.open for s in sessions), sessions
    assert all(s.channel_id == lounge.id for s in sessions), sessions

    # The leaver: one session, closed at its last checkpoint; the seconds counted equal it.
    (lea,) = [s for s in sessions if s.user_id == leaver.id]
    assert int(joined) <= lea.started_at <= lea.ended_at <= int(left)
    assert seconds[leaver.id] == lea.seconds
    assert seconds[leaver.id] >= (left - joined) - 60

    # The stayer: the crashed run's session closed, a new one from the restart to SIGTERM.
    stan = [s for s in sessions if s.user_id == stayer.id]
    assert len(stan) == 2, stan
    assert int(joined) <= stan[0].started_at <= stan[0].ended_at <= stan[1].started_at <= stan[1].ended_at
    assert stan[1].ended_at <= int(exited)
    assert seconds[stayer.id] == stan[0].seconds + stan[1].seconds
    assert (exited - joined) - 60 <= seconds[stayer.id] <= int(exited) - int(joined)
    await rollups_consistent(storage.engine)


# 4 ---------------------------------------------------------------------------------------------

# (what is wrong, the settings that make it wrong, what the one line on stderr must name)
BAD_CONFIGURATIONS: list[tuple[str, dict[str, str | None], list[str]]] = [
    ("a MySQL URL", {"DATABASE_URL": "mysql://x"}, ["DATABASE_URL", "postgresql+asyncpg://"]),
    ("a flush interval that is no number", {"FLUSH_INTERVAL_SECONDS": "abc"}, ["FLUSH_INTERVAL_SECONDS", "abc"]),
    ("no token", {"DISCORD_TOKEN": None}, ["DISCORD_TOKEN"]),
    (
        "a database port where nothing listens",
        {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"},
        ["database unreachable", "127.0.0.1:1"],
    ),
]


async def test_bad_configuration_is_one_clear_line_and_a_failure_exit(bots: Bots, tmp_path: Path) -> None:
    # The cases run side by side: each process only starts Python and fails.
    started = []
    for n, (what, settings, names) in enumerate(BAD_CONFIGURATIONS):
        env = {
            "DISCORD_TOKEN": "some-token",
            "DISCORD_API_URL": "http://127.0.0.1:1",  # never the real Discord, whatever happens
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / f'stats{n}.db'}",
            "FLUSH_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "WARNING",  # stderr then holds nothing but the problem
        } | settings
        started.append((what, names, await bots.start(env, metrics=False)))
    failures = []
    for what, names, bot in started:
        rc = await bot.wait_exit()
        lines = [line for line in bot.stderr().splitlines() if line.strip()]
        if rc == 0 or len(lines) != 1 or "Traceback" in bot.stderr() or not all(n in lines[0] for n in names):
            failures.append(f"{what}: expected a non-zero exit and one stderr line naming {names}, got exit {rc}")
    assert not failures, "\n".join(failures) + "\n" + bots.tails()
