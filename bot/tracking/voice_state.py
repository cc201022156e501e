"""Voice sessions of one guild as a state machine: pure logic over whole epoch seconds.

Every non-bot member in a voice channel is *present* (that decides who is alone);
a present member outside the AFK channel who has not opted out also has an open
*session*. Time is accrued per session at every change that can alter its bucket
and at each checkpoint: the seconds since the last accrual go to exactly one of
``deafened_s`` / ``muted_s`` / ``alone_s`` / ``active_s`` (in that precedence), and
to ``streaming_s`` / ``video_s`` too while set, split at UTC hour boundaries. Each
accrual also rewrites the session's ``vsess`` record with ``ended_at`` = the
accrual time, so the counted seconds of a session always equal ``ended_at -
started_at`` of its record, and both travel in the same push.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple

from bot.buffer.counters import Counters
from db.series import HOUR, VOICE, VOICE_SESSION

_VOICE: Final = VOICE.code
_VSESS: Final = VOICE_SESSION.code


class VoiceFlags(NamedTuple):
    """The sub-state of a member in voice, as the gateway reports it."""

    self_deaf: bool = False
    deaf: bool = False
    self_mute: bool = False
    mute: bool = False
    self_stream: bool = False
    self_video: bool = False

    @property
    def deafened(self) -> bool:
        return self.self_deaf or self.deaf

    @property
    def muted(self) -> bool:
        return self.self_mute or self.mute


@dataclass(slots=True)
class Session:
    """An open voice session: where, since when, counted up to when, in which sub-state."""

    user_id: int
    channel_id: int
    started_at: int
    accrued_to: int
    flags: VoiceFlags


def hour_slices(start: int, end: int) -> Iterator[tuple[int, int]]:
    """(hour, seconds) pieces of ``[start, end)`` cut at UTC hour boundaries."""
    t = start
    while t < end:
        h = t - t % HOUR
        nxt = min(end, h + HOUR)
        yield h, nxt - t
        t = nxt


class GuildVoice:
    """The voice state machine of one guild, writing counters and session records.

    ``excluded(user_id)`` is asked at every accrual, so a member who opts out mid-session
    stops being recorded at once (the session is dropped, nothing more is written).
    """

    def __init__(
        self,
        guild_id: int,
        counters: Counters,
        *,
        afk_channel_id: int | None = None,
        excluded: Callable[[int], bool] = lambda _u: False,
    ) -> None:
        self.guild_id = guild_id
        self.counters = counters
        self.afk_channel_id = afk_channel_id
        self.excluded = excluded
        self.sessions: dict[int, Session] = {}
        # Non-bot members present per channel, and where each is, with their flags.
        self.present: dict[int, set[int]] = {}
        self.where: dict[int, int] = {}
        self.flags: dict[int, VoiceFlags] = {}

    # -- accrual -------------------------------------------------------------------------

    def _alone(self, channel_id: int) -> bool:
        return len(self.present.get(channel_id, ())) <= 1

    def _accrue(self, s: Session, now: int, *, open_: bool = True) -> None:
        """Count ``s`` up to ``now`` in its current bucket and rewrite its session record."""
        if self.excluded(s.user_id):
            self.sessions.pop(s.user_id, None)
            return
        start = s.accrued_to
        if now > start:
            f = s.flags
            if f.self_deaf or f.deaf:
                bucket = "deafened_s"
            elif f.self_mute or f.mute:
                bucket = "muted_s"
            elif self._alone(s.channel_id):
                bucket = "alone_s"
            else:
                bucket = "active_s"
            g, ch, u = self.guild_id, s.channel_id, s.user_id
            incr = self.counters.incr
            for hour, secs in hour_slices(start, now):
                incr((_VOICE, g, hour, ch, u, bucket), secs)
                if f.self_stream:
                    incr((_VOICE, g, hour, ch, u, "streaming_s"), secs)
                if f.self_video:
                    incr((_VOICE, g, hour, ch, u, "video_s"), secs)
            s.accrued_to = now
        self.counters.record(
            (_VSESS, self.guild_id, s.user_id, s.started_at),
            (s.channel_id, s.accrued_to, 1 if open_ else 0),
        )

    def _accrue_channel(self, channel_id: int | None, now: int) -> None:
        """Accrue everyone in a channel whose ``alone`` may be about to change."""
        if channel_id is None:
            return
        sessions = self.sessions
        for uid in tuple(self.present.get(channel_id, ())):
            s = sessions.get(uid)
            if s is not None:
                self._accrue(s, now)

    def checkpoint(self, now: int) -> None:
        """Accrue every open session up to ``now`` (the periodic checkpoint).

        A member present without a session (one who opted back in) gets one from now.
        """
        for s in tuple(self.sessions.values()):
            self._accrue(s, now)
        if len(self.sessions) < len(self.where):
            for uid, channel_id in self.where.items():
                if uid not in self.sessions:
                    self._start(uid, channel_id, self.flags[uid], now)

    # -- transitions ---------------------------------------------------------------------

    def _start(self, user_id: int, channel_id: int, flags: VoiceFlags, now: int) -> None:
        if channel_id == self.afk_channel_id or self.excluded(user_id):
            return
        s = Session(user_id, channel_id, now, now, flags)
        self.sessions[user_id] = s
        self.counters.record((_VSESS, self.guild_id, user_id, now), (channel_id, now, 1))

    def _end(self, user_id: int, now: int) -> None:
        s = self.sessions.get(user_id)
        if s is not None:
            self._accrue(s, now, open_=False)
            self.sessions.pop(user_id, None)

    def update(self, user_id: int, channel_id: int | None, flags: VoiceFlags, now: int) -> None:
        """Bring one member to the state the gateway reports (idempotent).

        ``channel_id`` None means the member is not in voice. Bots must not be passed.
        """
        old = self.where.get(user_id)
        if old != channel_id:
            # Everyone in both channels may change alone/not alone: count their time first.
            self._accrue_channel(old, now)
            self._accrue_channel(channel_id, now)
            self._end(user_id, now)
            if old is not None:
                members = self.present[old]
                members.discard(user_id)
                if not members:
                    del self.present[old]
                del self.where[user_id]
                self.flags.pop(user_id, None)
            if channel_id is not None:
                self.present.setdefault(channel_id, set()).add(user_id)
                self.where[user_id] = channel_id
                self.flags[user_id] = flags
                self._start(user_id, channel_id, flags, now)
            return
        if channel_id is None or self.flags.get(user_id) == flags:
            return
        self.flags[user_id] = flags
        s = self.sessions.get(user_id)
        if s is None:
            self._start(user_id, channel_id, flags, now)  # AFK and opted-out members get none
            return
        self._accrue(s, now)
        s.flags = flags

    def set_afk_channel(self, afk_channel_id: int | None, now: int) -> None:
        """The guild's AFK channel changed: end sessions now in it, start those leaving it."""
        if afk_channel_id == self.afk_channel_id:
            return
        old = self.afk_channel_id
        self.afk_channel_id = afk_channel_id
        if afk_channel_id is not None:
            for uid in tuple(self.present.get(afk_channel_id, ())):
                self._end(uid, now)
        if old is not None:
            for uid in tuple(self.present.get(old, ())):
                self._start(uid, old, self.flags[uid], now)

    def close_all(self, now: int) -> None:
        """Accrue and close every session (the guild went away, or its state is rebuilt)."""
        for uid in tuple(self.sessions):
            self._end(uid, now)
        self.present.clear()
        self.where.clear()
        self.flags.clear()
