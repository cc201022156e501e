"""Discord JSON payloads built from the sandbox state, in the shapes discord.py parses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.state import (
    SandboxChannel,
    SandboxGuild,
    SandboxInvite,
    SandboxMember,
    SandboxRole,
    SandboxUser,
    SandboxVoiceState,
    iso,
    utcnow,
)

JSON = dict[str, Any]
LARGE_THRESHOLD = 250


def user_payload(user: SandboxUser) -> JSON:
    """A user object."""
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": user.avatar,
        "bot": user.bot,
        "public_flags": 0,
    }


def role_payload(role: SandboxRole) -> JSON:
    """A role object."""
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": role.color,
        "hoist": role.hoist,
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    }


def member_payload(member: SandboxMember, *, with_user: bool = True) -> JSON:
    """A guild member object (`with_user=False` for the nested `member` of messages and resolved data)."""
    data: JSON = {
        "roles": [str(role_id) for role_id in member.role_ids],
        "joined_at": iso(member.joined_at),
        "nick": member.nick,
        "avatar": None,
        "deaf": member.deaf,
        "mute": member.mute,
        "flags": 0,
        "pending": False,
        "premium_since": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload(member.user)
    return data


def channel_payload(channel: SandboxChannel, *, permissions: int | None = None) -> JSON:
    """A guild channel or thread object (`permissions` for interaction payloads)."""
    data: JSON = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "parent_id": None if channel.parent_id is None else str(channel.parent_id),
        "permission_overwrites": [],
        "nsfw": False,
        "topic": channel.topic,
        "rate_limit_per_user": 0,
        "last_message_id": None if channel.last_message_id is None else str(channel.last_message_id),
        "bitrate": 64000,
        "user_limit": 0,
        "rtc_region": None,
        "flags": 0,
        "available_tags": [],
    }
    if channel.is_thread:
        data.update(
            owner_id=str(channel.owner_id or 0),
            message_count=channel.message_count,
            member_count=1,
            total_message_sent=channel.message_count,
            thread_metadata={
                "archived": channel.archived,
                "locked": channel.locked,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso(channel.created_at),
                "create_timestamp": iso(channel.created_at),
            },
        )
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def voice_state_payload(guild: SandboxGuild, state: SandboxVoiceState) -> JSON:
    """A voice state object, with its member when the member is known."""
    data: JSON = {
        "guild_id": str(guild.id),
        "channel_id": None if state.channel_id is None else str(state.channel_id),
        "user_id": str(state.user_id),
        "session_id": state.session_id,
        "self_mute": state.self_mute,
        "self_deaf": state.self_deaf,
        "mute": state.mute,
        "deaf": state.deaf,
        "self_stream": state.self_stream,
        "self_video": state.self_video,
        "suppress": state.suppress,
        "request_to_speak_timestamp": None,
    }
    member = guild.members.get(state.user_id)
    if member is not None:
        data["member"] = member_payload(member)
    return data


def guild_payload(guild: SandboxGuild) -> JSON:
    """A guild object as GET /guilds/{id} returns it (no members, channels or voice states)."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "owner_id": str(guild.owner_id),
        "icon": None,
        "splash": None,
        "banner": None,
        "description": None,
        "afk_channel_id": None if guild.afk_channel_id is None else str(guild.afk_channel_id),
        "afk_timeout": guild.afk_timeout,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "preferred_locale": "en-US",
        "vanity_url_code": guild.vanity_code,
        "features": ["VANITY_URL"] if guild.vanity_code else [],
        "roles": [role_payload(role) for role in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "approximate_member_count": len(guild.members),
        "approximate_presence_count": 0,
    }


def guild_create_payload(guild: SandboxGuild, bot_user_id: int, *, joined_after_ready: bool) -> JSON:
    """GUILD_CREATE: the guild with channels, threads, every member and the voice states.

    `member_count` equals the members sent so that discord.py does not request chunks; a guild
    joined after READY carries no `unavailable` key at all.
    """
    data = guild_payload(guild)
    channels = [c for c in guild.channels.values() if not c.is_thread]
    threads = [c for c in guild.channels.values() if c.is_thread and not c.archived]
    bot_member = guild.members.get(bot_user_id)
    data.update(
        joined_at=iso(bot_member.joined_at if bot_member else utcnow()),
        large=len(guild.members) >= LARGE_THRESHOLD,
        member_count=len(guild.members),
        channels=[channel_payload(c) for c in channels],
        threads=[channel_payload(c) for c in threads],
        members=[member_payload(m) for m in guild.members.values()],
        voice_states=[voice_state_payload(guild, s) for s in guild.voice_states.values() if s.channel_id is not None],
        presences=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
    )
    if not joined_after_ready:
        data["unavailable"] = False
    return data


def invite_payload(guild: SandboxGuild, invite: SandboxInvite, users: dict[int, SandboxUser]) -> JSON:
    """An invite with metadata, as GET /guilds/{id}/invites lists it."""
    channel = guild.channels.get(invite.channel_id)
    inviter = users.get(invite.inviter_id) if invite.inviter_id is not None else None
    return {
        "type": 0,
        "code": invite.code,
        "guild": {"id": str(guild.id), "name": guild.name, "features": [], "icon": None, "splash": None},
        "channel": {
            "id": str(invite.channel_id),
            "name": channel.name if channel else "unknown",
            "type": channel.type if channel else 0,
        },
        "inviter": None if inviter is None else user_payload(inviter),
        "uses": invite.uses,
        "max_uses": invite.max_uses,
        "max_age": invite.max_age,
        "temporary": invite.temporary,
        "created_at": iso(invite.created_at),
        "expires_at": iso(invite.expires_at),
    }


def invite_create_payload(invite: SandboxInvite, users: dict[int, SandboxUser]) -> JSON:
    """INVITE_CREATE's data."""
    inviter = users.get(invite.inviter_id) if invite.inviter_id is not None else None
    data: JSON = {
        "channel_id": str(invite.channel_id),
        "guild_id": str(invite.guild_id),
        "code": invite.code,
        "created_at": iso(invite.created_at),
        "max_age": invite.max_age,
        "max_uses": invite.max_uses,
        "temporary": invite.temporary,
        "uses": invite.uses,
        "expires_at": iso(invite.expires_at),
        "type": 0,
    }
    if inviter is not None:
        data["inviter"] = user_payload(inviter)
    return data


def attachment_payload(
    attachment_id: int, channel_id: int, filename: str, size: int, base_url: str, **extra: Any
) -> JSON:
    """An attachment object whose URL the sandbox serves."""
    url = f"{base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
    data: JSON = {"id": str(attachment_id), "filename": filename, "size": size, "url": url, "proxy_url": url}
    data.update({key: value for key, value in extra.items() if value is not None})
    return data


def message_payload(
    *,
    message_id: int,
    channel: SandboxChannel,
    author: SandboxUser,
    member: SandboxMember | None,
    content: str,
    timestamp: dt.datetime,
    **fields: Any,
) -> JSON:
    """A message object with the fields discord.py needs; `fields` adds or overrides the rest."""
    data: JSON = {
        "id": str(message_id),
        "channel_id": str(channel.id),
        "guild_id": str(channel.guild_id),
        "type": 0,
        "content": content,
        "author": user_payload(author),
        "timestamp": iso(timestamp),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "reactions": [],
        "pinned": False,
        "flags": 0,
    }
    if member is not None:
        data["member"] = member_payload(member, with_user=False)
    data.update({key: value for key, value in fields.items() if value is not None})
    return data


def mention_payload(guild: SandboxGuild, user: SandboxUser) -> JSON:
    """An entry of a message's `mentions`: the user with its guild member."""
    data = user_payload(user)
    member = guild.members.get(user.id)
    if member is not None:
        data["member"] = member_payload(member, with_user=False)
    return data
