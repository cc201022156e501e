"""REST routes through a real discord.Client: history paging, posting with files, 429s, lookups."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator

import discord
import pytest

from sandbox import SandboxChannel, SandboxDiscord, SandboxGuild, SandboxUser, StoredMessage
from tests.sandbox import READY_TIMEOUT, intents, running

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


class Place:
    """A guild with one channel holding 250 messages, one every ten minutes."""

    def __init__(self, sandbox: SandboxDiscord) -> None:
        self.sandbox = sandbox
        self.guild: SandboxGuild = sandbox.add_guild("History", vanity_code="hist")
        self.channel: SandboxChannel = sandbox.add_channel(self.guild, "archive")
        self.author: SandboxUser = sandbox.add_member(self.guild, "writer").user
        self.history: list[StoredMessage] = [
            sandbox.add_message(self.channel, self.author, f"m{i}", created_at=START + dt.timedelta(minutes=10 * i))
            for i in range(250)
        ]


@pytest.fixture(scope="module")
async def place() -> AsyncIterator[Place]:
    async with SandboxDiscord() as sandbox:
        yield Place(sandbox)


@pytest.fixture(scope="module")
async def client(place: Place) -> AsyncIterator[tuple[discord.Client, discord.TextChannel]]:
    async with running(discord.Client(intents=intents(), guild_ready_timeout=READY_TIMEOUT), place.sandbox) as (
        client,
        _task,
    ):
        channel = client.get_channel(place.channel.id)
        assert isinstance(channel, discord.TextChannel)
        yield client, channel


def _contents(messages: list[discord.Message]) -> list[str]:
    return [m.content for m in messages]


async def test_history_newest_first_across_pages(
    place: Place, client: tuple[discord.Client, discord.TextChannel]
) -> None:
    _, channel = client
    messages = [m async for m in channel.history(limit=230)]
    assert _contents(messages) == [f"m{i}" for i in range(249, 19, -1)]
    assert messages[-1].created_at == START + dt.timedelta(minutes=200)


async def test_history_after_oldest_first(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    _, channel = client
    after = place.history[9].id
    messages = [m async for m in channel.history(limit=150, after=discord.Object(after), oldest_first=True)]
    assert _contents(messages) == [f"m{i}" for i in range(10, 160)]


async def test_history_between_dates(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    _, channel = client
    before = START + dt.timedelta(minutes=10 * 200)
    after = START + dt.timedelta(minutes=10 * 50 - 1)
    messages = [m async for m in channel.history(limit=None, before=before, after=after)]
    assert _contents(messages) == [f"m{i}" for i in range(50, 200)]
    around = [m async for m in channel.history(limit=5, around=discord.Object(place.history[100].id))]
    assert sorted(_contents(around)) == sorted(f"m{i}" for i in range(98, 103))


async def test_rate_limit_is_retried(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    _, channel = client
    place.sandbox.rate_limit(f"/channels/{place.channel.id}/messages", times=2, retry_after=0.01)
    sent = await channel.send("after two 429s")
    posts = [r for r in place.sandbox.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [r.status for r in posts[-3:]] == [429, 429, 200]
    assert place.sandbox.messages_in(place.channel, by_bot=True)[-1].id == sent.id


async def test_post_with_files_and_edit(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    _, channel = client
    chart = discord.File(io.BytesIO(b"png-bytes"), filename="chart.png", description="Voice minutes: 42")
    message = await channel.send(content="weekly", embed=discord.Embed(title="Week 47"), file=chart)
    assert [a.filename for a in message.attachments] == ["chart.png"]
    assert await message.attachments[0].read() == b"png-bytes"
    await message.edit(content="weekly (edited)")
    stored = place.sandbox.messages_in(place.channel, by_bot=True)[-1]
    assert stored.content == "weekly (edited)" and stored.embeds[0]["title"] == "Week 47"
    assert [(f.filename, f.data, f.description) for f in stored.files] == [
        ("chart.png", b"png-bytes", "Voice minutes: 42")
    ]


async def test_lookups(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    bot, _ = client
    sandbox = place.sandbox
    guild = bot.get_guild(place.guild.id)
    assert guild is not None
    member = await guild.fetch_member(place.author.id)
    assert member.name == "writer"
    members = [m async for m in guild.fetch_members(limit=None)]
    assert sorted(m.id for m in members) == sorted(place.guild.members)
    vanity = await guild.vanity_invite()
    assert vanity is not None and vanity.code == "hist"
    fetched = await bot.fetch_channel(place.channel.id)
    assert fetched.id == place.channel.id
    user = await bot.fetch_user(place.author.id)
    assert user.name == "writer"
    with pytest.raises(discord.NotFound):
        await guild.fetch_member(12345)
    assert not sandbox.errors


async def test_unknown_routes_are_recorded(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    bot, _ = client
    guild = bot.get_guild(place.guild.id)
    assert guild is not None
    with pytest.raises(discord.NotFound):
        [ban async for ban in guild.bans()]
    assert place.sandbox.unknown_routes[-1].path == f"/guilds/{place.guild.id}/bans"


async def test_thread_listings(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    bot, channel = client
    sandbox = place.sandbox
    live = sandbox.add_thread(place.channel, "live")
    old = sandbox.add_thread(place.channel, "old", archived=True, created_at=START)
    guild = bot.get_guild(place.guild.id)
    assert guild is not None
    assert [t.id for t in await guild.active_threads()] == [live.id]
    assert [t.id async for t in channel.archived_threads()] == [old.id]


async def test_a_wrong_token_fails_login(place: Place, client: tuple[discord.Client, discord.TextChannel]) -> None:
    intruder = discord.Client(intents=intents())
    with pytest.raises(discord.LoginFailure):
        await intruder.login("not-the-token")
    await intruder.close()
    assert place.sandbox.requests[-1].status == 401
