"""One ``on_message`` listener shared by the tracking cogs.

discord.py creates one task per listener per event; with messages, emojis and apps
each listening that is three tasks a message. The feed registers a single listener
and calls each cog's synchronous handler in turn, so tracking costs one task, and
decides once per message whether it is a countable member message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord

from bot.tracking.messages import Place, countable_place

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

MessageHandler = Callable[[discord.Message], None]
# A handler of countable member messages, given where and when the message counts.
MemberHandler = Callable[[discord.Message, Place], None]


class MessageFeed:
    """Calls subscribed handlers with every message; a failing handler does not stop the others.

    *Member* handlers only get countable messages (see ``bot.tracking.messages.countable_place``)
    with their place, computed once; plain handlers get every message.
    """

    __slots__ = ("_all", "_members", "bot", "marks", "optouts")

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.optouts = bot.optouts
        self.marks = bot.marks
        self._members: tuple[MemberHandler, ...] = ()
        self._all: tuple[MessageHandler, ...] = ()

    async def on_message(self, message: discord.Message) -> None:
        for handler in self._all:
            try:
                handler(message)
            except Exception:
                log.exception("tracking handler %r failed on message %s", handler, message.id)
        members = self._members
        if (
            members
            and (place := countable_place(message, self.optouts)) is not None
            # Messages below the channel's live boundary are catch-up's (bot.tracking.catchup).
            and self.marks.admit(message.id, place[0], place[2])
        ):
            for member_handler in members:
                try:
                    member_handler(message, place)
                except Exception:
                    log.exception("tracking handler %r failed on message %s", member_handler, message.id)

    def _listen(self) -> None:
        if not (self._members or self._all):
            self.bot.add_listener(self.on_message, "on_message")

    def subscribe(self, handler: MessageHandler) -> None:
        """Call ``handler`` with every message."""
        self._listen()
        self._all = (*self._all, handler)

    def subscribe_members(self, handler: MemberHandler) -> None:
        """Call ``handler`` with every countable member message and its place."""
        self._listen()
        self._members = (*self._members, handler)

    def unsubscribe(self, handler: MessageHandler | MemberHandler) -> None:
        self._members = tuple(h for h in self._members if h != handler)
        self._all = tuple(h for h in self._all if h != handler)
        if not (self._members or self._all):
            self.bot.remove_listener(self.on_message, "on_message")
