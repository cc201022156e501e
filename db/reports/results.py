"""What the report queries return: plain data for the cogs and builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Totals:
    """A guild's (or channel's) key figures over a period."""

    messages: int
    voice_seconds: int
    active_members: int

    @property
    def voice_minutes(self) -> float:
        """Voice time in minutes (the four exclusive buckets)."""
        return self.voice_seconds / 60


@dataclass(frozen=True, slots=True)
class HourlyPoint:
    """Messages and voice seconds at one time (an hour, or a UTC day from the rollups)."""

    ts: datetime
    messages: int
    voice_seconds: int


@dataclass(frozen=True, slots=True)
class VoiceStates:
    """A member's voice seconds by sub-state."""

    active_s: int = 0
    muted_s: int = 0
    deafened_s: int = 0
    alone_s: int = 0
    streaming_s: int = 0
    video_s: int = 0


@dataclass(frozen=True, slots=True)
class EmojiCount:
    """One emoji's uses in messages and as reactions."""

    emoji: str
    message: int
    reaction: int


@dataclass(frozen=True, slots=True)
class InviterFigures:
    """One inviter's invites created, joins attributed, and joiners who stayed."""

    inviter_id: int
    invites: int
    joins: int
    stayed: int


@dataclass(frozen=True, slots=True)
class InviteFigures:
    """The /invites report's data."""

    inviters: list[InviterFigures]
    vanity_joins: int
    unknown_joins: int


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What the ``channels`` table knows of a channel."""

    channel_id: int
    parent_id: int | None
    kind: str
    name: str
