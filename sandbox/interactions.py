"""Slash command invocations: the INTERACTION_CREATE payload and the answers a test awaits."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.payloads import JSON, channel_payload, member_payload, role_payload, user_payload
from sandbox.state import (
    ATTACHMENT_SIZE_LIMIT,
    SandboxChannel,
    SandboxGuild,
    SandboxMember,
    SandboxRole,
    SandboxUser,
    StoredFile,
    StoredMessage,
)

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 4, 5

OptionValue = str | int | float | bool | SandboxUser | SandboxMember | SandboxChannel | SandboxRole


@dataclass
class InteractionReply:
    """One answer to an interaction: the callback message, an edit of @original or a follow-up."""

    kind: str
    message: StoredMessage

    @classmethod
    def snapshot(cls, kind: str, message: StoredMessage) -> InteractionReply:
        """The answer as it is now, unaffected by later edits of the same message."""
        return cls(kind, StoredMessage(copy.deepcopy(message.payload), list(message.files)))

    @property
    def content(self) -> str:
        """The text content."""
        return self.message.content

    @property
    def embeds(self) -> list[JSON]:
        """The embeds as Discord JSON dicts."""
        return self.message.embeds

    @property
    def files(self) -> list[StoredFile]:
        """The uploaded files with their bytes and descriptions."""
        return self.message.files

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees this answer."""
        return self.message.ephemeral


@dataclass
class InteractionResult:
    """What the bot answered to one invocation, awaitable from a test."""

    id: int
    token: str
    channel_id: int
    user_id: int
    command: str
    callback_type: int | None = None
    deferred_ephemeral: bool = False
    original: StoredMessage | None = None
    replies: list[InteractionReply] = field(default_factory=list)
    followups: dict[int, StoredMessage] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition, repr=False)

    @property
    def deferred(self) -> bool:
        """Whether the bot deferred (answered "thinking…" first)."""
        return self.callback_type == DEFERRED_CHANNEL_MESSAGE

    async def record(self, reply: InteractionReply) -> None:
        """Add an answer and wake the waiters."""
        async with self._changed:
            self.replies.append(reply)
            self._changed.notify_all()

    async def record_callback(self, callback_type: int, message: StoredMessage | None) -> None:
        """Note the initial callback (a message, or a deferral) and wake the waiters."""
        async with self._changed:
            self.callback_type = callback_type
            self.original = message
            if callback_type == DEFERRED_CHANNEL_MESSAGE and message is not None:
                self.deferred_ephemeral = message.ephemeral
            elif message is not None:
                self.replies.append(InteractionReply.snapshot("callback", message))
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[InteractionResult], bool]) -> None:
        """Wait until `predicate(self)` holds (wrap it in `asyncio.timeout`)."""
        async with self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    async def responded(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109 - the test-facing deadline
        """Wait for the initial callback (message or deferral) and return its type (4 or 5)."""
        async with asyncio.timeout(timeout):
            await self.wait_until(lambda r: r.callback_type is not None)
        assert self.callback_type is not None
        return self.callback_type

    async def final(self, timeout: float = 5.0) -> InteractionReply:  # noqa: ASYNC109 - the test-facing deadline
        """Wait for the first non-deferred answer (callback message, edit of @original or follow-up)."""
        return await self.nth(0, timeout)

    async def nth(self, index: int, timeout: float = 5.0) -> InteractionReply:  # noqa: ASYNC109 - as above
        """Wait for the answer number `index` (0 is the first) and return it."""
        async with asyncio.timeout(timeout):
            await self.wait_until(lambda r: len(r.replies) > index)
        return self.replies[index]


def find_command(commands: Sequence[JSON], name: str) -> JSON | None:
    """The chat-input command called `name` in a synced command list."""
    return next((c for c in commands if c["name"] == name and c.get("type", 1) == 1), None)


@dataclass
class ResolvedOptions:
    """The options of an invocation with the `resolved` objects they refer to."""

    options: list[JSON]
    resolved: dict[str, dict[str, JSON]] = field(default_factory=dict)

    def add(self, kind: str, key: int, data: JSON) -> None:
        """Add an object to `resolved.<kind>`."""
        self.resolved.setdefault(kind, {})[str(key)] = data


def build_options(
    guild: SandboxGuild, user_id: int, command: JSON, path: Sequence[str], values: Mapping[str, OptionValue]
) -> ResolvedOptions:
    """Turn a subcommand path and Python values into interaction options, following the synced schema.

    `user_id` is the invoking member, whose permissions resolved channels carry.
    """
    schema: list[JSON] = list(command.get("options", []))
    out = ResolvedOptions(options=[])
    leaf = out.options
    for part in path:
        sub = next((o for o in schema if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)), None)
        if sub is None:
            raise ValueError(f"/{command['name']} has no subcommand {part!r}")
        node: JSON = {"name": part, "type": sub["type"], "options": []}
        leaf.append(node)
        leaf = node["options"]
        schema = list(sub.get("options", []))
    for name, value in values.items():
        spec = next((o for o in schema if o["name"] == name), None)
        if spec is None:
            raise ValueError(f"/{command['name']} {' '.join(path)} has no option {name!r}")
        wire = _option_value(guild, user_id, spec["type"], value, out)
        leaf.append({"name": name, "type": spec["type"], "value": wire})
    return out


def _option_value(guild: SandboxGuild, user_id: int, kind: int, value: OptionValue, out: ResolvedOptions) -> Any:
    """The wire value of one option, adding users, members, channels and roles to `resolved`."""
    if kind == ATTACHMENT:
        raise ValueError("attachment options are not supported by the sandbox")
    if kind in (USER, CHANNEL, ROLE, MENTIONABLE):
        object_id = _object_id(value)
        if kind == CHANNEL:
            channel = guild.channels[object_id]
            out.add("channels", object_id, channel_payload(channel, permissions=guild.permissions_of(user_id)))
        elif kind == ROLE or (kind == MENTIONABLE and object_id in guild.roles):
            out.add("roles", object_id, role_payload(guild.roles[object_id]))
        else:
            _resolve_user(guild, object_id, value, out)
        return str(object_id)
    if kind == INTEGER:
        return int(value)  # type: ignore[arg-type]
    if kind == NUMBER:
        return float(value)  # type: ignore[arg-type]
    if kind == BOOLEAN:
        return bool(value)
    return str(value)


def _resolve_user(guild: SandboxGuild, user_id: int, value: OptionValue, out: ResolvedOptions) -> None:
    """Add a user, and its member when it is one of the guild, to `resolved`."""
    member = guild.members.get(user_id)
    if member is not None:
        out.add("users", user_id, user_payload(member.user))
        permissions = str(guild.permissions_of(user_id))
        out.add("members", user_id, member_payload(member, with_user=False) | {"permissions": permissions})
    elif isinstance(value, SandboxUser):
        out.add("users", user_id, user_payload(value))
    else:
        raise ValueError(f"user {user_id} is unknown; pass a SandboxUser for a non-member")


def _object_id(value: OptionValue) -> int:
    """The snowflake behind an option value given as an id or a sandbox object."""
    if isinstance(value, SandboxMember):
        return value.user.id
    if isinstance(value, SandboxUser | SandboxChannel | SandboxRole):
        return value.id
    return int(value)


def interaction_payload(
    *,
    interaction_id: int,
    token: str,
    application_id: int,
    guild: SandboxGuild,
    channel: SandboxChannel,
    member: SandboxMember,
    command: JSON,
    command_guild_id: int | None,
    options: ResolvedOptions,
    app_permissions: int,
) -> JSON:
    """INTERACTION_CREATE's data for a chat-input command invoked in a guild channel."""
    data: JSON = {"id": command["id"], "name": command["name"], "type": 1, "options": options.options}
    if options.resolved:
        data["resolved"] = options.resolved
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    permissions = guild.permissions_of(member.user.id)
    return {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": 2,
        "token": token,
        "version": 1,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "guild_locale": "en-US",
        "locale": "en-US",
        "channel_id": str(channel.id),
        "channel": channel_payload(channel, permissions=permissions),
        "member": member_payload(member) | {"permissions": str(permissions)},
        "app_permissions": str(app_permissions),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
