"""A real StatsBot fed with gateway payloads through discord.py's own parsers, with a settable clock.

``Harness.feed`` runs the parser (real parsing and dispatch), then awaits the very
listener tasks that dispatch scheduled: no sleeps, no polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import discord

from bot.app import StatsBot
from bot.settings import load_settings
from bot.tracking.snowflakes import snowflake_at
from db.series import CounterKey, RecordKey, RecordValue
from sandbox.payloads import member_payload, user_payload
from sandbox.state import SandboxMember, SandboxUser

JSON = dict[str, Any]

BOT_ID = 900_000_000_000_000_001
APP_ID = BOT_ID
OWNER_ID = 900_000_000_000_000_002
T0 = 1_795_000_000 - 1_795_000_000 % 3600  # an hour boundary in November 2026


class Clock:
    """A settable clock in epoch seconds."""

    def __init__(self, t: float = T0) -> None:
        self.t = float(t)

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class HarnessBot(StatsBot):
    """A StatsBot that keeps the listener tasks it schedules, so tests can await them."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(load_settings(DISCORD_TOKEN=None), extensions=(), clock=clock)
        self.scheduled: list[asyncio.Task[Any]] = []

    def _schedule_event(self, coro: Any, event_name: str, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self.scheduled.append(task)
        return task

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        raise  # a listener's exception fails the test


class Harness:
    """The bot, its clock, and helpers to feed payloads and read what the cogs wrote."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.bot = HarnessBot(self.clock)
        self._next_id = 1

    async def start(self) -> None:
        await self.bot._async_setup_hook()
        state = self.bot._connection
        state.user = discord.ClientUser(state=state, data=user(BOT_ID, "statsbot", bot=True))  # type: ignore[arg-type]
        state.application_id = APP_ID
        # Interactions are counted by the cog; this bot has no commands registered in the test.
        state._command_tree = None

    async def stop(self) -> None:
        for name in list(self.bot.cogs):
            await self.bot.remove_cog(name)
        await self.drain()

    async def drain(self) -> None:
        """Await every listener task scheduled so far (and those they schedule)."""
        while self.bot.scheduled:
            tasks, self.bot.scheduled = self.bot.scheduled, []
            await asyncio.gather(*tasks)

    async def feed(self, event: str, payload: JSON) -> None:
        """Parse one gateway event as discord.py does and run its listeners to completion."""
        self.bot._connection.parsers[event](payload)
        await self.drain()

    async def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        result = await coro
        await self.drain()
        return result

    def new_id(self, at: float | None = None) -> int:
        """A fresh snowflake created at ``at`` (default: the clock)."""
        self._next_id += 1
        return snowflake_at(int(self.clock.t if at is None else at)) + self._next_id

    # -- reading the buffer ------------------------------------------------------------------

    @property
    def counters(self) -> dict[CounterKey, int]:
        return self.bot.counters._counters

    @property
    def records(self) -> dict[RecordKey, RecordValue]:
        return self.bot.counters._records

    def series(self, code: str) -> dict[CounterKey, int]:
        return {k: v for k, v in self.counters.items() if k[0] == code}

    def total(self, code: str, field: str, **match: int | str) -> int:
        """Sum of one field of a series, over keys whose dims match (by position name)."""
        from db.series import SERIES

        dims = SERIES[code].dims
        out = 0
        for k, v in self.counters.items():
            if k[0] != code or k[-1] != field:
                continue
            if all(k[3 + dims.index(name)] == want for name, want in match.items()):
                out += v
        return out

    def kind(self, code: str) -> dict[RecordKey, RecordValue]:
        return {k: v for k, v in self.records.items() if k[0] == code}


# -- payload builders (the shapes Discord sends and discord.py parses) -----------------------


def user(uid: int, name: str = "", *, bot: bool = False) -> JSON:
    return user_payload(SandboxUser(uid, name or f"user{uid % 10000}", bot=bot))


def member(
    uid: int, *, bot: bool = False, with_user: bool = True, joined_at: str = "2026-01-01T00:00:00+00:00"
) -> JSON:
    joined = datetime.fromisoformat(joined_at)
    return member_payload(
        SandboxMember(SandboxUser(uid, f"user{uid % 10000}", bot=bot), joined_at=joined), with_user=with_user
    )


def channel(cid: int, guild_id: int, *, type: int = 0, name: str = "", parent_id: int | None = None) -> JSON:
    data: JSON = {
        "id": str(cid),
        "type": type,
        "guild_id": str(guild_id),
        "name": name or f"channel-{cid % 1000}",
        "position": 0,
        "parent_id": None if parent_id is None else str(parent_id),
        "permission_overwrites": [],
        "nsfw": False,
    }
    if type in (2, 13):
        data.update(bitrate=64000, user_limit=0, rtc_region=None)
    if type in (10, 11, 12):
        data.update(
            owner_id=str(OWNER_ID),
            thread_metadata={
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": "2026-01-01T00:00:00+00:00",
                "locked": False,
            },
            message_count=0,
            member_count=1,
            rate_limit_per_user=0,
            flags=0,
        )
    return data


def voice_state(
    uid: int,
    channel_id: int | None,
    guild_id: int,
    *,
    bot: bool = False,
    self_mute: bool = False,
    mute: bool = False,
    self_deaf: bool = False,
    deaf: bool = False,
    self_stream: bool = False,
    self_video: bool = False,
    with_member: bool = True,
) -> JSON:
    data: JSON = {
        "guild_id": str(guild_id),
        "channel_id": None if channel_id is None else str(channel_id),
        "user_id": str(uid),
        "session_id": f"s{uid}",
        "deaf": deaf,
        "mute": mute,
        "self_deaf": self_deaf,
        "self_mute": self_mute,
        "self_stream": self_stream,
        "self_video": self_video,
        "suppress": False,
        "request_to_speak_timestamp": None,
    }
    if with_member:
        data["member"] = member(uid, bot=bot)
    return data


def guild(
    gid: int,
    *,
    channels: list[JSON] = (),  # type: ignore[assignment]
    threads: list[JSON] = (),  # type: ignore[assignment]
    members: list[JSON] = (),  # type: ignore[assignment]
    voice_states: list[JSON] = (),  # type: ignore[assignment]
    afk_channel_id: int | None = None,
    features: list[str] = (),  # type: ignore[assignment]
    emojis: list[JSON] = (),  # type: ignore[assignment]
    available: bool = True,
    everyone_permissions: int = 0,
) -> JSON:
    data: JSON = {
        "id": str(gid),
        "name": f"guild-{gid % 1000}",
        "icon": None,
        "owner_id": str(OWNER_ID),
        "afk_channel_id": None if afk_channel_id is None else str(afk_channel_id),
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            {
                "id": str(gid),
                "name": "@everyone",
                "permissions": str(everyone_permissions),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "emojis": list(emojis),
        "stickers": [],
        "features": list(features),
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": "cool" if "VANITY_URL" in features else None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "large": False,
        "member_count": len(members),
        "channels": list(channels),
        "threads": list(threads),
        "members": list(members),
        "voice_states": list(voice_states),
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "joined_at": "2026-01-01T00:00:00+00:00",
    }
    if available:
        data["unavailable"] = False
    return data


def message(
    mid: int,
    channel_id: int,
    guild_id: int,
    author_id: int,
    content: str = "",
    *,
    bot: bool = False,
    type: int = 0,
    attachments: int = 0,
    reply_to: int | None = None,
    forward_of: int | None = None,
    webhook_id: int | None = None,
    application_id: int | None = None,
    interaction_metadata: JSON | None = None,
    interaction: JSON | None = None,
) -> JSON:
    data: JSON = {
        "id": str(mid),
        "channel_id": str(channel_id),
        "guild_id": str(guild_id),
        "type": type,
        "content": content,
        "author": user(author_id, bot=bot),
        "member": member(author_id, with_user=False),
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [
            {
                "id": str(mid + 1000 + i),
                "filename": f"f{i}.png",
                "size": 10,
                "url": "https://cdn.example/f.png",
                "proxy_url": "https://cdn.example/f.png",
            }
            for i in range(attachments)
        ],
        "embeds": [],
        "pinned": False,
        "flags": 0,
    }
    if reply_to is not None:
        data["message_reference"] = {
            "type": 0,
            "message_id": str(reply_to),
            "channel_id": str(channel_id),
            "guild_id": str(guild_id),
        }
        data["type"] = 19
    if forward_of is not None:
        data["message_reference"] = {
            "type": 1,
            "message_id": str(forward_of),
            "channel_id": str(channel_id),
            "guild_id": str(guild_id),
        }
    if webhook_id is not None:
        data["webhook_id"] = str(webhook_id)
    if application_id is not None:
        data["application_id"] = str(application_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    if interaction is not None:
        data["interaction"] = interaction
    return data
