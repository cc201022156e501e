"""Building the sandbox's state from Python: users, guilds, channels, members, invites, history."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import discord

from sandbox.payloads import JSON, attachment_payload, mention_payload, message_payload, user_payload
from sandbox.state import (
    DEFAULT_EVERYONE_PERMISSIONS,
    SandboxChannel,
    SandboxGuild,
    SandboxInvite,
    SandboxMember,
    SandboxRole,
    SandboxUser,
    SandboxVoiceState,
    StoredFile,
    StoredMessage,
    World,
    utcnow,
)

GuildRef = SandboxGuild | int
ChannelRef = SandboxChannel | int
UserRef = SandboxUser | SandboxMember | int


def object_id(ref: SandboxGuild | SandboxChannel | SandboxUser | SandboxMember | SandboxRole | int) -> int:
    """The snowflake of a sandbox object or of a bare id."""
    if isinstance(ref, SandboxMember):
        return ref.user.id
    return ref if isinstance(ref, int) else ref.id


class SandboxBuilder:
    """The setup half of the sandbox: methods that change the state without sending any event."""

    def __init__(self, world: World) -> None:
        self.world = world

    def guild(self, guild: GuildRef) -> SandboxGuild:
        """A guild by id (or the guild itself)."""
        return self.world.guilds[object_id(guild)]

    def channel(self, channel: ChannelRef) -> SandboxChannel:
        """A channel or thread by id (or the channel itself)."""
        return self.world.channel(object_id(channel))

    def messages_in(self, channel: ChannelRef, *, by_bot: bool | None = None) -> list[StoredMessage]:
        """The messages of a channel, oldest first; `by_bot=True` keeps only the bot's own."""
        messages = sorted(self.world.channel_messages(object_id(channel)).values(), key=lambda m: m.id)
        if by_bot is None:
            return messages
        return [m for m in messages if (m.author_id == self.world.bot_user.id) is by_bot]

    def snowflake(self, when: dt.datetime | None = None) -> int:
        """A fresh snowflake created now, or at `when` (for backdated objects)."""
        return self.world.minter.now() if when is None else self.world.minter.at(when)

    def add_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> SandboxUser:
        """Create a user (not yet in any guild)."""
        user = SandboxUser(user_id or self.snowflake(), username, bot=bot, global_name=username.title())
        self.world.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner: SandboxUser | None = None,
        guild_id: int | None = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        vanity_code: str | None = None,
    ) -> SandboxGuild:
        """Create a guild with its @everyone role, its owner and the bot as members."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = SandboxGuild(guild_id or self.snowflake(), name, owner.id, vanity_code=vanity_code)
        guild.roles[guild.id] = SandboxRole(guild.id, "@everyone", permissions=everyone_permissions)
        self.world.guilds[guild.id] = guild
        self.add_member(guild, owner)
        self.add_member(guild, self.world.bot_user)
        return guild

    def add_role(self, guild: GuildRef, name: str, *, permissions: int = 0, role_id: int | None = None) -> SandboxRole:
        """Create a role."""
        target = self.guild(guild)
        role = SandboxRole(role_id or self.snowflake(), name, permissions=permissions, position=len(target.roles))
        target.roles[role.id] = role
        return role

    def add_channel(
        self,
        guild: GuildRef,
        name: str,
        *,
        kind: discord.ChannelType = discord.ChannelType.text,
        parent: ChannelRef | None = None,
        afk: bool = False,
        topic: str | None = None,
        channel_id: int | None = None,
        created_at: dt.datetime | None = None,
    ) -> SandboxChannel:
        """Create a text, voice, category, forum… channel; `afk=True` makes it the AFK channel."""
        target = self.guild(guild)
        channel = SandboxChannel(
            channel_id or self.snowflake(created_at),
            target.id,
            name,
            type=kind.value,
            position=len(target.channels),
            parent_id=None if parent is None else object_id(parent),
            topic=topic,
            created_at=created_at or utcnow(),
        )
        target.channels[channel.id] = channel
        if afk:
            target.afk_channel_id = channel.id
        return channel

    def add_thread(
        self,
        parent: ChannelRef,
        name: str,
        *,
        owner: UserRef | None = None,
        kind: discord.ChannelType = discord.ChannelType.public_thread,
        thread_id: int | None = None,
        created_at: dt.datetime | None = None,
        archived: bool = False,
    ) -> SandboxChannel:
        """Create a thread (or a forum post when the parent is a forum); archived ones miss GUILD_CREATE."""
        parent_channel = self.channel(parent)
        thread = SandboxChannel(
            thread_id or self.snowflake(created_at),
            parent_channel.guild_id,
            name,
            type=kind.value,
            parent_id=parent_channel.id,
            owner_id=object_id(owner) if owner is not None else self.guild(parent_channel.guild_id).owner_id,
            created_at=created_at or utcnow(),
            archived=archived,
        )
        self.guild(parent_channel.guild_id).channels[thread.id] = thread
        return thread

    def add_member(
        self,
        guild: GuildRef,
        user: SandboxUser | str,
        *,
        roles: Iterable[SandboxRole | int] = (),
        joined_at: dt.datetime | None = None,
        nick: str | None = None,
        bot: bool = False,
    ) -> SandboxMember:
        """Add a user (or a new user by name) to a guild."""
        if isinstance(user, str):
            user = self.add_user(user, bot=bot)
        self.world.users.setdefault(user.id, user)
        member = SandboxMember(user, [object_id(r) for r in roles], joined_at or utcnow(), nick=nick)
        self.guild(guild).members[user.id] = member
        return member

    def add_invite(
        self,
        guild: GuildRef,
        channel: ChannelRef,
        inviter: UserRef | None,
        *,
        code: str | None = None,
        uses: int = 0,
        max_uses: int = 0,
        max_age: int = 0,
        created_at: dt.datetime | None = None,
    ) -> SandboxInvite:
        """Create an invite."""
        invite = SandboxInvite(
            code or secrets.token_urlsafe(6),
            object_id(guild),
            object_id(channel),
            None if inviter is None else object_id(inviter),
            uses=uses,
            max_uses=max_uses,
            max_age=max_age,
            created_at=created_at or utcnow(),
        )
        self.guild(guild).invites[invite.code] = invite
        return invite

    def set_voice(
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
        """Put a member in a voice channel with these flags (None takes them out of voice)."""
        target = self.guild(guild)
        user_id = object_id(user)
        state = SandboxVoiceState(
            user_id,
            None if channel is None else object_id(channel),
            session_id=f"voice-{user_id}",
            self_mute=self_mute,
            self_deaf=self_deaf,
            mute=mute,
            deaf=deaf,
            self_stream=self_stream,
            self_video=self_video,
        )
        if channel is None:
            target.voice_states.pop(user_id, None)
        else:
            target.voice_states[user_id] = state
        return state

    def add_message(
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
        """Put a message into a channel's history without a gateway event (for backfill).

        `fields` adds raw message fields: `webhook_id`, `type`, `application_id`,
        `interaction_metadata`, `interaction`, `flags`…
        """
        target = self.channel(channel)
        guild = self.guild(target.guild_id)
        user = self.world.users[object_id(author)]
        message_id = self.snowflake(created_at)
        payload = message_payload(
            message_id=message_id,
            channel=target,
            author=user,
            member=None if fields.get("webhook_id") else guild.members.get(user.id),
            content=content,
            timestamp=discord.utils.snowflake_time(message_id),
            attachments=[self._attachment(target, f) for f in attachments],
            mentions=[mention_payload(guild, self.world.users[object_id(u)]) for u in mentions],
            mention_roles=[str(object_id(r)) for r in mention_roles],
            embeds=list(embeds),
            message_reference=self._reference(target, reply_to),
            **fields,
        )
        if reply_to is not None and "type" not in fields:
            payload["type"] = 19
        return self.world.store(StoredMessage(payload, list(attachments)))

    def _attachment(self, channel: SandboxChannel, stored: StoredFile) -> JSON:
        """The attachment object of a file in a user's message."""
        return attachment_payload(
            self.snowflake(),
            channel.id,
            stored.filename,
            len(stored.data),
            self.world.base_url,
            description=stored.description,
        )

    @staticmethod
    def _reference(channel: SandboxChannel, reply_to: StoredMessage | int | None) -> JSON | None:
        """The `message_reference` of a reply."""
        if reply_to is None:
            return None
        message_id = reply_to if isinstance(reply_to, int) else reply_to.id
        return {
            "type": 0,
            "message_id": str(message_id),
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
        }

    def app_interaction_metadata(self, user: UserRef, name: str, *, interaction_id: int | None = None) -> JSON:
        """The `interaction_metadata` of another app's reply to `user` running `/name`."""
        return {
            "id": str(interaction_id or self.snowflake()),
            "type": 2,
            "name": name,
            "user": user_payload(self.world.users[object_id(user)]),
            "authorizing_integration_owners": {"0": "0"},
        }
