"""READY, GUILD_CREATE, the cache, live events and shards, seen by real discord.py clients."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.ext import commands

from sandbox import CustomEmoji, SandboxDiscord, SandboxGuild
from tests.sandbox import READY_TIMEOUT, intents, race, running


class Listener(discord.Client):
    """A plain client that keeps every event the tests look at."""

    def __init__(self) -> None:
        super().__init__(intents=intents(), guild_ready_timeout=READY_TIMEOUT)
        self.events: list[tuple[str, Any]] = []
        self.ready_count = 0

    async def on_ready(self) -> None:
        self.ready_count += 1

    async def on_message(self, message: discord.Message) -> None:
        self.events.append(("message", message))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.events.append(("reaction_add", payload))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.events.append(("reaction_remove", payload))

    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        self.events.append(("voice", (member.id, before.channel, after.channel, after.self_mute, after.self_stream)))

    async def on_member_join(self, member: discord.Member) -> None:
        self.events.append(("join", member))

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        self.events.append(("leave", payload))

    async def on_invite_create(self, invite: discord.Invite) -> None:
        self.events.append(("invite_create", invite))

    async def on_invite_delete(self, invite: discord.Invite) -> None:
        self.events.append(("invite_delete", invite))

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.events.append(("thread", thread))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.events.append(("guild_join", guild))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.events.append(("edit", payload))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.events.append(("delete", payload))

    async def on_presence_update(self, before: discord.Member, after: discord.Member) -> None:
        self.events.append(("presence", (after.id, after.status, [a.name for a in after.activities])))

    async def on_resumed(self) -> None:
        self.events.append(("resumed", None))

    def take(self, kind: str) -> list[Any]:
        """The recorded events of one kind, removed from the list."""
        found = [payload for name, payload in self.events if name == kind]
        self.events = [(name, payload) for name, payload in self.events if name != kind]
        return found


class World:
    """The sandbox objects the tests of this module share."""

    def __init__(self, sandbox: SandboxDiscord) -> None:
        self.sandbox = sandbox
        self.guild = sandbox.add_guild("Sandbox Guild", vanity_code="sandbox")
        self.category = sandbox.add_channel(self.guild, "Text", kind=discord.ChannelType.category)
        self.general = sandbox.add_channel(self.guild, "general", parent=self.category)
        self.voice = sandbox.add_channel(self.guild, "Lounge", kind=discord.ChannelType.voice)
        self.afk = sandbox.add_channel(self.guild, "AFK", kind=discord.ChannelType.voice, afk=True)
        self.forum = sandbox.add_channel(self.guild, "help", kind=discord.ChannelType.forum)
        self.post = sandbox.add_thread(self.forum, "How do I…")
        self.mods = sandbox.add_role(self.guild, "Mods", permissions=discord.Permissions(manage_guild=True).value)
        self.alice = sandbox.add_member(self.guild, "alice", roles=[self.mods]).user
        self.bob = sandbox.add_member(self.guild, "bob").user
        self.helper_bot = sandbox.add_member(self.guild, "helper", bot=True).user
        self.invite = sandbox.add_invite(self.guild, self.general, self.alice, code="abc", max_uses=2)
        sandbox.set_voice(self.guild, self.bob, self.voice, self_mute=True)


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    async with SandboxDiscord() as sandbox:
        yield World(sandbox)


@pytest.fixture(scope="module")
async def client(world: World) -> AsyncIterator[Listener]:
    async with running(Listener(), world.sandbox) as (client, _task):
        yield client


async def test_ready_fills_the_cache(world: World, client: Listener) -> None:
    assert client.ready_count == 1
    assert client.user is not None and client.user.id == world.sandbox.bot_user.id
    assert client.application_id == world.sandbox.application_id
    guild = client.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Sandbox Guild"
    assert guild.chunked and guild.member_count == len(world.guild.members) == 5
    assert guild.afk_channel is not None and guild.afk_channel.id == world.afk.id
    assert guild.vanity_url_code == "sandbox"
    general = guild.get_channel(world.general.id)
    assert isinstance(general, discord.TextChannel) and general.category_id == world.category.id
    assert isinstance(guild.get_channel(world.forum.id), discord.ForumChannel)
    post = guild.get_thread(world.post.id)
    assert post is not None and post.parent_id == world.forum.id
    alice = guild.get_member(world.alice.id)
    assert alice is not None and [r.name for r in alice.roles] == ["@everyone", "Mods"]
    assert alice.guild_permissions.manage_guild and not alice.guild_permissions.administrator
    helper = guild.get_member(world.helper_bot.id)
    assert helper is not None and helper.bot
    bob = guild.get_member(world.bob.id)
    assert bob is not None and bob.voice is not None
    assert bob.voice.channel is not None and bob.voice.channel.id == world.voice.id and bob.voice.self_mute


async def test_message_create_reaches_listeners(world: World, client: Listener) -> None:
    sandbox = world.sandbox
    old = dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC)
    first = await sandbox.send_message(world.general, world.alice, "hello <:party:42> 🎉", created_at=old)
    reply = await sandbox.send_message(world.post, world.bob, "thanks", reply_to=first, mentions=[world.alice])
    hook = await sandbox.send_message(world.general, world.helper_bot, "from a hook", webhook_id="777")
    other_app = await sandbox.send_message(
        world.general,
        world.helper_bot,
        "",
        application_id=str(world.helper_bot.id),
        interaction_metadata=sandbox.app_interaction_metadata(world.bob, "poll create"),
    )
    await sandbox.barrier()
    messages = client.take("message")
    assert [m.id for m in messages] == [first.id, reply.id, hook.id, other_app.id]
    got_first, got_reply, got_hook, got_app = messages
    assert got_first.created_at == old and got_first.content == "hello <:party:42> 🎉"
    assert isinstance(got_first.author, discord.Member) and got_first.guild is not None
    assert isinstance(got_reply.channel, discord.Thread) and got_reply.channel.parent_id == world.forum.id
    assert got_reply.reference is not None and got_reply.reference.message_id == first.id
    assert [u.id for u in got_reply.mentions] == [world.alice.id]
    assert got_hook.webhook_id == 777
    assert got_app.interaction_metadata is not None
    assert got_app.interaction_metadata.user.id == world.bob.id
    assert other_app.payload["interaction_metadata"]["name"] == "poll create"  # raw only in discord.py 2.7
    assert got_app.application_id == world.helper_bot.id


async def test_reactions_carry_the_emoji(world: World, client: Listener) -> None:
    message = await world.sandbox.send_message(world.general, world.alice, "react to me")
    await world.sandbox.add_reaction(world.general, message.id, world.bob, "👍")
    await world.sandbox.add_reaction(world.general, message.id, world.bob, CustomEmoji(99, "blob", animated=True))
    await world.sandbox.remove_reaction(world.general, message.id, world.bob, "👍")
    await world.sandbox.barrier()
    added = client.take("reaction_add")
    assert [str(p.emoji) for p in added] == ["👍", "<a:blob:99>"]
    assert all(p.user_id == world.bob.id and p.message_author_id == world.alice.id for p in added)
    assert added[0].member is not None and added[0].member.id == world.bob.id
    assert [str(p.emoji) for p in client.take("reaction_remove")] == ["👍"]


async def test_voice_updates_in_order(world: World, client: Listener) -> None:
    sandbox = world.sandbox
    # discord.py updates the cached VoiceState in place: without a barrier after each update a
    # listener could already see the state of the next one.
    await sandbox.voice_update(world.guild, world.alice, world.voice)
    await sandbox.barrier()
    await sandbox.voice_update(world.guild, world.alice, world.voice, self_mute=True, self_stream=True)
    await sandbox.barrier()
    await sandbox.voice_update(world.guild, world.alice, None)
    await sandbox.barrier()
    joined, changed, left = client.take("voice")
    assert joined[0] == world.alice.id and joined[1] is None and joined[2].id == world.voice.id
    assert changed[3:] == (True, True)
    assert left[2] is None
    guild = client.get_guild(world.guild.id)
    assert guild is not None and world.alice.id not in {m.id for m in guild.get_channel(world.voice.id).members}  # type: ignore[union-attr]


async def test_members_and_invites(world: World, client: Listener) -> None:
    sandbox = world.sandbox
    invite = await sandbox.create_invite(world.guild, world.general, world.bob, code="once", max_uses=1, max_age=3600)
    carol = await sandbox.member_join(world.guild, "carol", invite="once")
    dave = await sandbox.member_join(world.guild, "dave", invite="abc")
    await sandbox.member_leave(world.guild, carol.user)
    await sandbox.barrier()
    created = client.take("invite_create")
    assert [(i.code, i.max_uses, i.max_age, i.inviter.id) for i in created] == [("once", 1, 3600, world.bob.id)]
    assert [m.id for m in client.take("join")] == [carol.user.id, dave.user.id]
    assert [i.code for i in client.take("invite_delete")] == [invite.code]
    assert [p.user.id for p in client.take("leave")] == [carol.user.id]
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    invites = {i.code: i.uses for i in await guild.invites()}
    assert invites == {"abc": 1}
    assert guild.get_member(dave.user.id) is not None and guild.get_member(carol.user.id) is None


async def test_thread_and_guild_join_after_ready(world: World, client: Listener) -> None:
    sandbox = world.sandbox
    thread = await sandbox.create_thread(world.general, "side talk", owner=world.alice)
    late = sandbox.add_guild("Late Guild")
    sandbox.add_channel(late, "welcome")
    await sandbox.join_guild(late)
    await sandbox.barrier()
    assert [t.id for t in client.take("thread")] == [thread.id]
    joined = client.take("guild_join")
    assert [g.id for g in joined] == [late.id] and not joined[0].unavailable
    assert [c.name for c in joined[0].text_channels] == ["welcome"]


async def test_edit_delete_and_presence(world: World, client: Listener) -> None:
    sandbox = world.sandbox
    message = await sandbox.send_message(world.general, world.alice, "typo")
    await sandbox.edit_message(world.general, message.id, "fixed")
    await sandbox.delete_message(world.general, message.id)
    game = {"name": "Chess", "type": 0}
    await sandbox.presence_update(world.guild, world.alice, status="dnd", activities=[game])
    await sandbox.barrier()
    (edit,) = client.take("edit")
    assert edit.message_id == message.id and edit.message.content == "fixed"
    assert [p.message_id for p in client.take("delete")] == [message.id]
    assert client.take("presence") == [(world.alice.id, discord.Status.dnd, ["Chess"])]


async def test_reconnect_resumes_the_session(world: World, client: Listener) -> None:
    sandbox = world.sandbox
    session = sandbox.gateway.connections[0].session_id
    await sandbox.reconnect()
    await sandbox.barrier()
    assert client.take("resumed") == [None]
    assert [c.session_id for c in sandbox.gateway.connections] == [session]
    message = await sandbox.send_message(world.general, world.bob, "still here")
    await sandbox.barrier()
    assert [m.id for m in client.take("message")][-1] == message.id


def _guild_on_shard(sandbox: SandboxDiscord, shard: int, name: str) -> SandboxGuild:
    """A guild whose id puts it on `shard` of two."""
    guild_id = sandbox.snowflake()
    guild_id += (((guild_id >> 22) % 2) ^ shard) << 22
    return sandbox.add_guild(name, guild_id=guild_id)


class ShardedBot(commands.AutoShardedBot):
    """Two shards without the 5 s pause discord.py takes between IDENTIFYs."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@pytest.mark.parametrize("shard_count", [2, None], ids=["given", "from-gateway-bot"])
async def test_auto_sharded_bot_gets_one_guild_per_shard(shard_count: int | None) -> None:
    async with SandboxDiscord(recommended_shards=2) as sandbox:
        even = _guild_on_shard(sandbox, 0, "Even")
        odd = _guild_on_shard(sandbox, 1, "Odd")
        channel = sandbox.add_channel(odd, "chat")
        member = sandbox.add_member(odd, "erin")
        bot = ShardedBot(
            command_prefix="!", shard_count=shard_count, intents=intents(), guild_ready_timeout=READY_TIMEOUT
        )
        seen: asyncio.Queue[discord.Message] = asyncio.Queue()
        bot.add_listener(seen.put, "on_message")
        async with running(bot, sandbox, connections=2) as (bot, task):
            assert bot.get_guild(even.id).shard_id == 0  # type: ignore[union-attr]
            assert bot.get_guild(odd.id).shard_id == 1  # type: ignore[union-attr]
            assert sorted(c.shard_id for c in sandbox.gateway.connections) == [0, 1]
            asked_gateway = any(r.path == "/gateway/bot" for r in sandbox.requests)
            assert asked_gateway is (shard_count is None)
            await sandbox.send_message(channel, member.user, "on shard one")
            message = await race(seen.get(), task)
            assert message.content == "on shard one" and message.guild is not None and message.guild.id == odd.id
