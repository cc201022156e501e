"""Counting one message: which messages count and what they add. Shared by live tracking and backfill."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import discord

from bot.buffer.counters import Counters
from bot.buffer.optouts import OptOuts
from bot.tracking.emoji_scan import MESSAGE_KIND, EmojiScanner
from bot.tracking.snowflakes import EPOCH_S as _EPOCH_S
from db.series import CHANNEL, EMOJIS, HOUR, MESSAGES, RecordKey, RecordValue

_MSG: Final = MESSAGES.code
_EMOJI: Final = EMOJIS.code
_DEFAULT: Final = discord.MessageType.default
_REPLY: Final = discord.MessageType.reply
_REF_DEFAULT: Final = discord.MessageReferenceType.default

# Guild text channels (announcement channels included) and threads (forum posts are
# threads). A guild channel discord.py has not cached is a thread it has not seen yet
# (every other guild channel comes in GUILD_CREATE): counted too. The text chat of
# voice and stage channels is not a text channel (README → Reference → What is tracked) and is not counted.
COUNTED_CHANNELS: Final[frozenset[type]] = frozenset({discord.TextChannel, discord.Thread, discord.PartialMessageable})


# Where and when a countable message counts: (guild_id, hour, channel_id, user_id).
Place = tuple[int, int, int, int]


def countable_place(message: discord.Message, optouts: OptOuts) -> Place | None:
    """Where and when a message counts, or None when it does not count.

    It counts when it is a member's own message in a guild text channel or thread:
    never bots, webhooks, system messages, nor members who opted out. The place is the
    guild, the hour of the message's snowflake, the channel (the thread for threads
    and forum posts) and the author.
    """
    guild = message.guild
    if guild is None or message.webhook_id is not None:
        return None
    author = message.author
    if author.bot:
        return None
    t = message.type
    if t is not _DEFAULT and t is not _REPLY:
        return None
    channel = message.channel
    if channel.__class__ not in COUNTED_CHANNELS:
        return None
    guild_id = guild.id
    user_id = author.id
    if optouts.excluded(guild_id, user_id):
        return None
    s = ((message.id >> 22) // 1000) + _EPOCH_S
    return (guild_id, s - s % HOUR, channel.id, user_id)


def is_reply(message: discord.Message) -> bool:
    """A reply to a message (not a forward, not a system reference)."""
    ref = message.reference
    return message.type is _REPLY and ref is not None and ref.type is _REF_DEFAULT


def count_message(counters: Counters, message: discord.Message, place: Place) -> None:
    """Add a countable message to the message counters of its place."""
    guild_id, hour, channel_id, user_id = place
    incr = counters.incr
    incr((_MSG, guild_id, hour, channel_id, user_id, "messages"), 1)
    n = len(message.content)
    if n:
        incr((_MSG, guild_id, hour, channel_id, user_id, "characters"), n)
    if message.attachments:
        incr((_MSG, guild_id, hour, channel_id, user_id, "attachments"), len(message.attachments))
    if message.type is _REPLY:
        ref = message.reference
        if ref is not None and ref.type is _REF_DEFAULT:
            incr((_MSG, guild_id, hour, channel_id, user_id, "replies"), 1)


def count_message_emojis(counters: Counters, scanner: EmojiScanner, message: discord.Message, place: Place) -> None:
    """Add the emojis in a countable message's content, kind ``message``."""
    content = message.content
    found: Sequence[str]
    if content.isascii():
        if "<" not in content:
            return
        found = scanner.custom(content)
    else:
        found = scanner.unicode(content)
        if "<" in content:
            found = [*found, *scanner.custom(content)]
    if found:
        guild_id, hour, channel_id, user_id = place
        incr = counters.incr
        for e in found:
            incr((_EMOJI, guild_id, hour, channel_id, user_id, e, MESSAGE_KIND, "count"), 1)


def channel_record(channel: object, guild_id: int) -> tuple[RecordKey, RecordValue] | None:
    """The ``channel`` record of a guild channel or thread: parent (threads only), kind, name."""
    cid = getattr(channel, "id", None)
    ctype = getattr(channel, "type", None)
    if cid is None or not isinstance(ctype, discord.ChannelType):
        return None
    parent_id = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    name = getattr(channel, "name", None) or ""
    return (CHANNEL.code, guild_id, cid), (parent_id, ctype.name, str(name))
