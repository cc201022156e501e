"""The sandbox's in-memory Discord: users, guilds, channels, members, invites, messages."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import discord
from discord.utils import time_snowflake

UTC = dt.UTC

ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = discord.Permissions.all().value
# @everyone's permissions in a fresh guild: read, send, history, connect, speak, use commands.
DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
    connect=True,
    speak=True,
    stream=True,
    use_application_commands=True,
    create_instant_invite=True,
).value
EPHEMERAL = 64
LOADING = 128
ATTACHMENT_SIZE_LIMIT = 25 * 1024 * 1024

THREAD_TYPES = frozenset({10, 11, 12})


def utcnow() -> dt.datetime:
    """Return the current time, aware and in UTC."""
    return dt.datetime.now(UTC)


def iso(when: dt.datetime | None) -> str | None:
    """Format a datetime the way Discord's JSON does (ISO 8601), or None."""
    return None if when is None else when.astimezone(UTC).isoformat()


def snowflake_at(when: dt.datetime, sequence: int = 0) -> int:
    """Return a snowflake created at `when`; `sequence` (0..4095) tells ids of one millisecond apart."""
    return time_snowflake(when) | (sequence & 0xFFF)


class SnowflakeMinter:
    """Mints unique snowflakes, increasing for "now" and backdated on request."""

    def __init__(self) -> None:
        self._sequence = itertools.count(1)
        self._last = 0

    def at(self, when: dt.datetime) -> int:
        """Return a fresh snowflake whose creation time is `when` (for backfilled history)."""
        return snowflake_at(when, next(self._sequence))

    def now(self) -> int:
        """Return a fresh snowflake for the current time, greater than every earlier `now()`."""
        candidate = self.at(utcnow())
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate


@dataclass
class SandboxUser:
    """A Discord user (a member of no guild by itself)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    avatar: str | None = None


@dataclass
class SandboxRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False


@dataclass
class SandboxChannel:
    """A guild channel of any kind: text, voice, category, forum, or a thread (then `parent_id` is set)."""

    id: int
    guild_id: int
    name: str
    type: int = discord.ChannelType.text.value
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    created_at: dt.datetime = field(default_factory=utcnow)
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        """Whether this channel is a thread or a forum post."""
        return self.type in THREAD_TYPES


@dataclass
class SandboxMember:
    """A user's membership in one guild."""

    user: SandboxUser
    role_ids: list[int] = field(default_factory=list)
    joined_at: dt.datetime = field(default_factory=utcnow)
    nick: str | None = None
    deaf: bool = False
    mute: bool = False


@dataclass
class SandboxVoiceState:
    """Where a member sits in voice and with which mute/deaf/stream/video flags."""

    user_id: int
    channel_id: int | None
    session_id: str = "sandbox-voice"
    self_mute: bool = False
    self_deaf: bool = False
    mute: bool = False
    deaf: bool = False
    self_stream: bool = False
    self_video: bool = False
    suppress: bool = False


@dataclass
class SandboxInvite:
    """A guild invite with its use counter."""

    code: str
    guild_id: int
    channel_id: int
    inviter_id: int | None
    uses: int = 0
    max_uses: int = 0
    max_age: int = 0
    temporary: bool = False
    created_at: dt.datetime = field(default_factory=utcnow)

    @property
    def expires_at(self) -> dt.datetime | None:
        """When the invite expires, or None when it never does."""
        return self.created_at + dt.timedelta(seconds=self.max_age) if self.max_age else None


@dataclass
class SandboxGuild:
    """A guild with everything GUILD_CREATE carries."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, SandboxRole] = field(default_factory=dict)
    channels: dict[int, SandboxChannel] = field(default_factory=dict)
    members: dict[int, SandboxMember] = field(default_factory=dict)
    voice_states: dict[int, SandboxVoiceState] = field(default_factory=dict)
    invites: dict[str, SandboxInvite] = field(default_factory=dict)
    afk_channel_id: int | None = None
    afk_timeout: int = 300
    vanity_code: str | None = None
    vanity_uses: int = 0

    @property
    def everyone(self) -> SandboxRole:
        """The @everyone role."""
        return self.roles[self.id]

    def shard_id(self, shard_count: int) -> int:
        """The shard this guild belongs to among `shard_count` shards."""
        return (self.id >> 22) % max(shard_count, 1)

    def permissions_of(self, user_id: int) -> int:
        """The guild-level permissions of a member (owner and administrators get all)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone.permissions
        member = self.members.get(user_id)
        for role_id in member.role_ids if member else ():
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value


@dataclass
class StoredFile:
    """A file the bot uploaded: its name, its bytes and its alt text."""

    filename: str
    data: bytes
    description: str | None = None
    content_type: str | None = None


@dataclass
class StoredMessage:
    """A message as the sandbox keeps it: the Discord payload plus the uploaded bytes."""

    payload: dict[str, Any]
    files: list[StoredFile] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The message id."""
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        """The channel (or thread) id."""
        return int(self.payload["channel_id"])

    @property
    def author_id(self) -> int:
        """The author's user id."""
        return int(self.payload["author"]["id"])

    @property
    def content(self) -> str:
        """The text content."""
        return str(self.payload.get("content", ""))

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """The embeds as Discord JSON dicts."""
        return list(self.payload.get("embeds", []))

    @property
    def flags(self) -> int:
        """The message flags (64 is ephemeral)."""
        return int(self.payload.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees the message."""
        return bool(self.flags & EPHEMERAL)


@dataclass
class World:
    """Everything the sandbox Discord knows, shared by the gateway, the REST routes and the helpers."""

    bot_user: SandboxUser
    application_name: str
    token: str
    minter: SnowflakeMinter = field(default_factory=SnowflakeMinter)
    users: dict[int, SandboxUser] = field(default_factory=dict)
    guilds: dict[int, SandboxGuild] = field(default_factory=dict)
    messages: dict[int, dict[int, StoredMessage]] = field(default_factory=dict)
    global_commands: list[dict[str, Any]] = field(default_factory=list)
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    base_url: str = ""

    @property
    def application_id(self) -> int:
        """The application id, equal to the bot user's id as on Discord."""
        return self.bot_user.id

    def channel(self, channel_id: int) -> SandboxChannel:
        """Find a channel or thread in any guild, or raise KeyError."""
        for guild in self.guilds.values():
            channel = guild.channels.get(channel_id)
            if channel is not None:
                return channel
        raise KeyError(f"unknown channel {channel_id}")

    def guild_of(self, channel_id: int) -> SandboxGuild:
        """The guild a channel belongs to, or raise KeyError."""
        return self.guilds[self.channel(channel_id).guild_id]

    def channel_messages(self, channel_id: int) -> dict[int, StoredMessage]:
        """The messages of a channel, by id."""
        return self.messages.setdefault(channel_id, {})

    def store(self, message: StoredMessage) -> StoredMessage:
        """Keep a message in its channel's history and bump the channel's last message."""
        self.channel_messages(message.channel_id)[message.id] = message
        try:
            channel = self.channel(message.channel_id)
        except KeyError:
            return message
        channel.message_count += 1
        channel.last_message_id = max(channel.last_message_id or 0, message.id)
        return message


@dataclass(frozen=True)
class CustomEmoji:
    """A guild's custom emoji, as used in reactions."""

    id: int
    name: str
    animated: bool = False

    def payload(self) -> dict[str, Any]:
        """The partial emoji object of a reaction."""
        return {"id": str(self.id), "name": self.name, "animated": self.animated}
