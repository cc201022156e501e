"""SandboxDiscord: an offline Discord on loopback that the unmodified discord.py client talks to."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from sandbox.builder import ChannelRef, GuildRef, SandboxBuilder, UserRef, object_id
from sandbox.cdn import Cdn
from sandbox.gateway import Gateway
from sandbox.interactions import (
    InteractionResult,
    OptionValue,
    build_options,
    find_command,
    interaction_payload,
)
from sandbox.members import MemberRoutes, RoleChange
from sandbox.oauth import OAuth
from sandbox.payloads import (
    JSON,
    channel_payload,
    guild_create_payload,
    invite_create_payload,
    member_payload,
    user_payload,
    voice_state_payload,
)
from sandbox.rest import RateLimitRule, RecordedRequest, Recorder, Rest
from sandbox.state import (
    ATTACHMENT_SIZE_LIMIT,
    CustomEmoji,
    SandboxChannel,
    SandboxGuild,
    SandboxInvite,
    SandboxMember,
    SandboxRole,
    SandboxUser,
    SandboxVoiceState,
    SnowflakeMinter,
    StoredFile,
    StoredMessage,
    World,
    iso,
    utcnow,
)
from sandbox.webhooks import Webhooks

log = logging.getLogger(__name__)

Emoji = str | CustomEmoji


class SandboxDiscord(SandboxBuilder):
    """An offline Discord (REST v10 and gateway) on 127.0.0.1 whose state tests build from Python.

    Setup methods (`add_*`, `set_voice`) change the state only; the async helpers (`send_message`,
    `voice_update`, `member_join`, …) change it and send the gateway event to the owning shard.
    """

    def __init__(
        self,
        *,
        token: str = "sandbox-token",
        bot_name: str = "StatsBot",
        recommended_shards: int = 1,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        minter = SnowflakeMinter()
        bot_user = SandboxUser(minter.now(), bot_name, bot=True)
        super().__init__(World(bot_user=bot_user, application_name=bot_name, token=token, minter=minter))
        self.world.users[bot_user.id] = bot_user
        self.gateway = Gateway(self.world, heartbeat_interval_ms=heartbeat_interval_ms)
        self.recorder = Recorder(token)
        self.rest = Rest(self.world, self.gateway, recommended_shards=recommended_shards)
        self.interactions: dict[str, InteractionResult] = {}
        self.webhooks = Webhooks(self.rest, self.interactions)
        self.members_api = MemberRoutes(self.world, self.gateway)
        # "Log in with Discord" (the dashboard): OAuth2 authorize, token, users/@me(/guilds).
        self.oauth = OAuth(self.world)
        self._runner: web.AppRunner | None = None

    # lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        app = web.Application(middlewares=[self.recorder.middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        # Member role changes and DMs first: their message route hands guild channels to the REST one.
        app.router.add_routes(self.members_api.routes(self.rest.post_message))
        app.router.add_routes(self.rest.routes() + self.webhooks.routes() + self.oauth.routes())
        app.router.add_routes(Cdn(self.world).routes())  # emoji images and avatars (Asset.BASE)
        app.router.add_route("*", "/{tail:.*}", self.recorder.unknown_route)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.world.base_url = f"http://{host}:{port}"
        log.info("sandbox Discord listening on %s", self.world.base_url)

    async def stop(self) -> None:
        """Close every websocket and the HTTP server."""
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # what a test reads -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:PORT (for DISCORD_API_URL and redirect_discord)."""
        if not self.world.base_url:
            raise RuntimeError("the sandbox is not started")
        return self.world.base_url

    @property
    def token(self) -> str:
        """The bot token IDENTIFY must carry."""
        return self.world.token

    @property
    def bot_user(self) -> SandboxUser:
        """The bot's user (its id is also the application id)."""
        return self.world.bot_user

    @property
    def application_id(self) -> int:
        """The application id."""
        return self.world.application_id

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request the bot made, in order."""
        return self.recorder.requests

    @property
    def errors(self) -> list[str]:
        """Requests on which the sandbox itself failed (answered 400 so that discord.py does not retry)."""
        return self.recorder.errors

    @property
    def unknown_routes(self) -> list[RecordedRequest]:
        """Requests to routes the sandbox does not implement (answered 404)."""
        return self.recorder.unknown

    @property
    def role_changes(self) -> list[RoleChange]:
        """Every role the bot gave or took through the API, in order, with its audit-log reason."""
        return self.members_api.role_changes

    def dms_to(self, user: UserRef) -> list[StoredMessage]:
        """The direct messages the bot sent a user, oldest first."""
        return list(self.members_api.dms.messages.get(object_id(user), []))

    def close_dms(self, user: UserRef) -> None:
        """The user's DMs refuse the bot from now on (Discord's 403, code 50007)."""
        self.members_api.dms.closed.add(object_id(user))

    async def click(self, user: UserRef, message: StoredMessage, custom_id: str) -> InteractionResult:
        """The user presses the button ``custom_id`` of a DM the bot sent them; the result awaits the answer."""
        return await self.members_api.click(object_id(user), message, custom_id, self.interactions)

    @property
    def refused_dms(self) -> list[int]:
        """One user id per DM that Discord refused, in order."""
        return self.members_api.dms.refused

    def rate_limit(self, route: str, *, times: int = 1, retry_after: float = 0.05) -> None:
        """Answer the next `times` requests whose "METHOD /path" contains `route` with a 429."""
        self.recorder.rules.append(RateLimitRule(route, times, retry_after))

    async def wait_connected(self, count: int = 1, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until `count` gateway connections got READY and their GUILD_CREATEs."""
        async with asyncio.timeout(timeout):
            await self.gateway.wait_connected(count)

    async def barrier(self, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the test-facing deadline
        """Wait until every connected client has parsed every event sent so far (op 1 round trip)."""
        async with asyncio.timeout(timeout):
            await self.gateway.barrier()

    async def reconnect(self, *, shard_id: int | None = None, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Make the client drop its connection (op 7) and RESUME it; events in between are replayed."""
        sessions = await self.gateway.reconnect(shard_id)
        async with asyncio.timeout(timeout):
            await self.gateway.wait_resumed(sessions)

    async def invalidate_session(
        self,
        *,
        shard_id: int | None = None,
        meanwhile: Callable[[], Awaitable[object]] | None = None,
        timeout: float = 15.0,  # noqa: ASYNC109 - the test-facing deadline
    ) -> None:
        """End the client's session so that it cannot resume and identifies anew (a new READY).

        ``meanwhile`` runs while no session receives events: what it sends is only in history.
        """
        dropped = self.gateway.drop_sessions(shard_id)
        old = {conn.session_id for conn in dropped}
        if meanwhile is not None:
            await meanwhile()
        await self.gateway.invalidate(dropped)
        async with asyncio.timeout(timeout):
            await self.gateway.wait_new_sessions(old, len(dropped))

    # dispatching helpers ---------------------------------------------------------------------

    async def _dispatch(self, guild: GuildRef, event: str, data: JSON) -> None:
        """Send one event to the shard that owns the guild."""
        await self.gateway.dispatch_guild(self.guild(guild), event, data)

    async def send_message(
        self,
        channel: ChannelRef,
        author: UserRef,
        content: str = "",
        *,
        created_at: dt.datetime | None = None,
        attachments: Sequence[StoredFile] = (),
        mentions: Sequence[UserRef] = (),
        mention_roles: Sequence[SandboxRole | int] = (),
        reply_to: StoredMessage | int | None = None,
        embeds: Sequence[JSON] = (),
        **fields: Any,
    ) -> StoredMessage:
        """A user posts a message: stored and sent as MESSAGE_CREATE (options as in `add_message`)."""
        stored = self.add_message(
            channel,
            author,
            content,
            created_at=created_at,
            attachments=attachments,
            mentions=mentions,
            mention_roles=mention_roles,
            reply_to=reply_to,
            embeds=embeds,
            **fields,
        )
        await self._dispatch(self.channel(channel).guild_id, "MESSAGE_CREATE", stored.payload)
        return stored

    async def edit_message(self, channel: ChannelRef, message_id: int, content: str) -> StoredMessage:
        """A user edits a message's content: MESSAGE_UPDATE with the full message."""
        stored = self.world.channel_messages(object_id(channel))[message_id]
        stored.payload.update(content=content, edited_timestamp=iso(utcnow()))
        await self._dispatch(self.channel(channel).guild_id, "MESSAGE_UPDATE", stored.payload)
        return stored

    async def delete_message(self, channel: ChannelRef, message_id: int) -> None:
        """A message is deleted: MESSAGE_DELETE."""
        target = self.channel(channel)
        self.world.channel_messages(target.id).pop(message_id, None)
        data = {"id": str(message_id), "channel_id": str(target.id), "guild_id": str(target.guild_id)}
        await self._dispatch(target.guild_id, "MESSAGE_DELETE", data)

    def _reaction_data(self, channel: SandboxChannel, message_id: int, user_id: int, emoji: Emoji) -> JSON:
        """The data of MESSAGE_REACTION_ADD / REMOVE."""
        stored = self.world.channel_messages(channel.id).get(message_id)
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(channel.id),
            "message_id": str(message_id),
            "guild_id": str(channel.guild_id),
            "emoji": emoji.payload() if isinstance(emoji, CustomEmoji) else {"id": None, "name": emoji},
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        if stored is not None:
            data["message_author_id"] = str(stored.author_id)
        return data

    async def add_reaction(self, channel: ChannelRef, message_id: int, user: UserRef, emoji: Emoji) -> None:
        """A member reacts with a unicode or custom emoji: MESSAGE_REACTION_ADD."""
        target = self.channel(channel)
        data = self._reaction_data(target, message_id, object_id(user), emoji)
        member = self.guild(target.guild_id).members.get(object_id(user))
        if member is not None:
            data["member"] = member_payload(member)
        await self._dispatch(target.guild_id, "MESSAGE_REACTION_ADD", data)

    async def remove_reaction(self, channel: ChannelRef, message_id: int, user: UserRef, emoji: Emoji) -> None:
        """A member takes a reaction back: MESSAGE_REACTION_REMOVE."""
        target = self.channel(channel)
        await self._dispatch(
            target.guild_id, "MESSAGE_REACTION_REMOVE", self._reaction_data(target, message_id, object_id(user), emoji)
        )

    async def voice_update(
        self,
        guild: GuildRef,
        user: UserRef,
        channel: ChannelRef | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
        mute: bool = False,
        deaf: bool = False,
        self_stream: bool = False,
        self_video: bool = False,
    ) -> SandboxVoiceState:
        """A member joins, moves, leaves (None) or changes mute/deaf/stream/video: VOICE_STATE_UPDATE.

        Every flag is given in full each time, as Discord sends the whole voice state.
        """
        target = self.guild(guild)
        state = self.set_voice(
            target,
            user,
            channel,
            self_mute=self_mute,
            self_deaf=self_deaf,
            mute=mute,
            deaf=deaf,
            self_stream=self_stream,
            self_video=self_video,
        )
        await self._dispatch(target, "VOICE_STATE_UPDATE", voice_state_payload(target, state))
        return state

    async def member_join(
        self,
        guild: GuildRef,
        user: SandboxUser | str,
        *,
        invite: str | None = None,
        vanity: bool = False,
        joined_at: dt.datetime | None = None,
    ) -> SandboxMember:
        """A user joins (through an invite code or the vanity URL): GUILD_MEMBER_ADD.

        The invite's use count goes up; an invite that reaches its max uses is deleted and
        INVITE_DELETE follows the join, as on Discord.
        """
        target = self.guild(guild)
        member = self.add_member(target, user, joined_at=joined_at)
        exhausted = self._count_invite_use(target, invite, vanity)
        await self._dispatch(target, "GUILD_MEMBER_ADD", member_payload(member) | {"guild_id": str(target.id)})
        if exhausted is not None:
            await self._send_invite_delete(target, exhausted)
        return member

    @staticmethod
    def _count_invite_use(guild: SandboxGuild, code: str | None, vanity: bool) -> SandboxInvite | None:
        """Count a join on an invite or the vanity URL; return the invite when it is used up."""
        if vanity:
            guild.vanity_uses += 1
        if code is None:
            return None
        invite = guild.invites[code]
        invite.uses += 1
        if invite.max_uses and invite.uses >= invite.max_uses:
            del guild.invites[code]
            return invite
        return None

    async def member_leave(self, guild: GuildRef, user: UserRef) -> None:
        """A member leaves: VOICE_STATE_UPDATE to no channel first when in voice, then GUILD_MEMBER_REMOVE."""
        target = self.guild(guild)
        if object_id(user) in target.voice_states:
            await self.voice_update(target, user, None)
        member = target.members.pop(object_id(user))
        data = {"guild_id": str(target.id), "user": user_payload(member.user)}
        await self._dispatch(target, "GUILD_MEMBER_REMOVE", data)

    async def create_invite(
        self, guild: GuildRef, channel: ChannelRef, inviter: UserRef | None, **kwargs: Any
    ) -> SandboxInvite:
        """An invite is created: INVITE_CREATE (same options as `add_invite`)."""
        invite = self.add_invite(guild, channel, inviter, **kwargs)
        await self._dispatch(guild, "INVITE_CREATE", invite_create_payload(invite, self.world.users))
        return invite

    async def delete_invite(self, guild: GuildRef, code: str) -> None:
        """An invite is deleted: INVITE_DELETE."""
        target = self.guild(guild)
        await self._send_invite_delete(target, target.invites.pop(code))

    async def _send_invite_delete(self, guild: SandboxGuild, invite: SandboxInvite) -> None:
        """Send INVITE_DELETE."""
        data = {"channel_id": str(invite.channel_id), "guild_id": str(guild.id), "code": invite.code}
        await self._dispatch(guild, "INVITE_DELETE", data)

    async def create_thread(self, parent: ChannelRef, name: str, **kwargs: Any) -> SandboxChannel:
        """A thread or forum post is created: THREAD_CREATE (same options as `add_thread`)."""
        thread = self.add_thread(parent, name, **kwargs)
        await self._dispatch(thread.guild_id, "THREAD_CREATE", channel_payload(thread) | {"newly_created": True})
        return thread

    async def join_guild(self, guild: GuildRef) -> None:
        """The bot is added to a guild after READY (again, after `remove_bot`): GUILD_CREATE without `unavailable`."""
        target = guild if isinstance(guild, SandboxGuild) else self.guild(guild)
        self.world.guilds[target.id] = target
        await self._dispatch(
            target, "GUILD_CREATE", guild_create_payload(target, self.bot_user.id, joined_after_ready=True)
        )

    async def remove_bot(self, guild: GuildRef, *, unavailable: bool = False) -> SandboxGuild:
        """The bot is removed from a guild (GUILD_DELETE; `join_guild` adds it back), or, with `unavailable`,
        the guild has an outage (GUILD_DELETE with `unavailable: true`: the bot is still in it)."""
        target = guild if isinstance(guild, SandboxGuild) else self.guild(guild)
        data: JSON = {"id": str(target.id)}
        if unavailable:
            data["unavailable"] = True
        await self._dispatch(target, "GUILD_DELETE", data)
        if not unavailable:
            self.world.guilds.pop(target.id, None)
        return target

    async def presence_update(
        self, guild: GuildRef, user: UserRef, *, status: str = "online", activities: Sequence[JSON] = ()
    ) -> None:
        """A member's status or activities change: PRESENCE_UPDATE."""
        data = {
            "user": {"id": str(object_id(user))},
            "guild_id": str(object_id(guild)),
            "status": status,
            "activities": list(activities),
            "client_status": {"desktop": status},
        }
        await self._dispatch(guild, "PRESENCE_UPDATE", data)

    # interactions ----------------------------------------------------------------------------

    async def invoke(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        user: UserRef,
        name: str,
        options: Mapping[str, OptionValue] | None = None,
        *,
        subcommand: str | Sequence[str] = (),
        app_permissions: int | None = None,
    ) -> InteractionResult:
        """A member runs a synced slash command (`name` may hold the path: "stats user").

        Returns the result object whose `final()` awaits the bot's answer.
        """
        target = self.guild(guild)
        first, *path = name.split()
        path += subcommand.split() if isinstance(subcommand, str) else list(subcommand)
        command, command_guild = self._synced_command(target, first)
        options_sent = build_options(target, object_id(user), command, path, options or {})
        if self.gateway.connection_for(target) is None:
            raise RuntimeError(f"no gateway connection owns guild {target.id}: is the client ready?")
        interaction_id = self.snowflake()
        token = f"interaction-{interaction_id}-{secrets.token_hex(8)}"
        where = self.channel(channel)
        result = InteractionResult(interaction_id, token, where.id, object_id(user), " ".join([first, *path]))
        self.interactions[token] = result
        payload = interaction_payload(
            interaction_id=interaction_id,
            token=token,
            application_id=self.application_id,
            guild=target,
            channel=where,
            member=target.members[object_id(user)],
            command=command,
            command_guild_id=command_guild,
            options=options_sent,
            app_permissions=target.permissions_of(self.bot_user.id) if app_permissions is None else app_permissions,
        )
        await self._dispatch(target, "INTERACTION_CREATE", payload)
        return result

    async def press(self, user: UserRef, message: StoredMessage, custom_id: str) -> InteractionResult:
        """A member presses the button ``custom_id`` of a message in a guild channel (INTERACTION_CREATE,
        component); the result awaits the answer like an invoked command's."""
        where = self.channel(message.channel_id)
        target = self.guild(where.guild_id)
        member = target.members[object_id(user)]
        interaction_id = self.snowflake()
        token = f"interaction-{interaction_id}-{secrets.token_hex(8)}"
        result = InteractionResult(interaction_id, token, where.id, member.user.id, custom_id)
        self.interactions[token] = result
        permissions = target.permissions_of(member.user.id)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": 3,
            "token": token,
            "version": 1,
            "data": {"custom_id": custom_id, "component_type": 2},
            "guild_id": str(target.id),
            "guild": {"id": str(target.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "locale": "en-US",
            "channel_id": str(where.id),
            "channel": channel_payload(where, permissions=permissions),
            "member": member_payload(member) | {"permissions": str(permissions)},
            "message": message.payload,
            "app_permissions": str(target.permissions_of(self.bot_user.id)),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(target.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        await self._dispatch(target, "INTERACTION_CREATE", payload)
        return result

    def _synced_command(self, guild: SandboxGuild, name: str) -> tuple[JSON, int | None]:
        """The synced command `name`: the guild's own first, then the global one."""
        command = find_command(self.world.guild_commands.get(guild.id, []), name)
        if command is not None:
            return command, guild.id
        command = find_command(self.world.global_commands, name)
        if command is None:
            synced = [c["name"] for c in self.world.global_commands]
            raise LookupError(f"/{name} is not synced (global commands: {synced})")
        return command, None
