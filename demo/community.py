"""A seeded synthetic Discord community and the figures it must produce, computed here.

``build_community(seed, anchor)`` describes a guild (roles, ~40 members including bots
and mentors, text/forum/voice/AFK channels, invites), about three weeks of message
history before ``anchor`` for ``/backfill``, and a live script of timestamped events
from ``anchor`` on. ``ground_truth(community)`` computes, with its own small code and
nothing from the bot, what the bot must store: messages, characters, attachments and
replies per channel, member and hour; emoji counts; voice seconds per bucket; and
which invite each join came through. Everything is keyed by names (``key``), which the
runner maps to sandbox ids.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

HOUR: Final = 3600
DAY: Final = 86400
# Five weeks: the drop-off risk compares a member's last week with the four before it.
HISTORY_DAYS: Final = 35
# Members who were there nearly every day and have said nothing for this many days: the
# watchlist's members at risk.
FADING_MEMBERS: Final = 3
FADING_SILENCE_DAYS: Final = 11
LIVE_SECONDS: Final = 3 * HOUR

# Unicode emojis that are fully-qualified RGI sequences without U+FE0F (one ZWJ sequence).
UNICODE_EMOJIS: Final = ("🎉", "😀", "👍", "🔥", "📚", "😂", "🙏", "✅", "💯", "🤔", "👩\u200d💻")
# Custom emojis as (name, id); written <:name:id> in content.
CUSTOM_EMOJIS: Final = (("pepe_study", 712345678901234561), ("coffee_time", 712345678901234562))
WORDS: Final = (
    "hello", "anyone", "homework", "question", "exam", "tomorrow", "thanks", "café", "naïve", "日本語",
    "help", "math", "physics", "chapter", "solved", "nice", "study", "group", "tonight", "ok", "résumé",
)  # fmt: skip
FIRST_NAMES: Final = (
    "alice", "bruno", "chloe", "dmitri", "elena", "farah", "gabriel", "hana", "ivan", "jade", "kofi", "lena",
    "marco", "nadia", "omar", "priya", "quentin", "rosa", "sven", "tara", "umar", "vera", "wen", "xavier",
    "yara", "zane", "amel", "boris", "carla", "dev", "emil", "fiona", "goran", "hugo", "ines", "jonas",
)  # fmt: skip
VOICE_BUCKETS: Final = ("active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s")


@dataclass(frozen=True, slots=True)
class Member:
    """A member of the guild at the start (or a user who joins during the live script)."""

    key: str
    roles: tuple[str, ...] = ()
    bot: bool = False
    joined_days_ago: int = 60


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel: kind is ``text``, ``forum``, ``thread`` (parent required) or ``voice``."""

    key: str
    kind: str
    parent: str | None = None
    afk: bool = False


@dataclass(frozen=True, slots=True)
class Invite:
    """An invite created before the live script."""

    code: str
    channel: str
    inviter: str
    max_uses: int = 0


@dataclass(frozen=True, slots=True)
class Message:
    """A message: where, who, when (epoch seconds), content, attachments and the message it replies to."""

    index: int
    channel: str
    author: str
    at: int
    content: str
    attachments: int = 0
    reply_to: int | None = None  # index of an earlier message
    emojis: tuple[str, ...] = ()  # the emojis written into content, in order


@dataclass(frozen=True, slots=True)
class VoiceFlags:
    """A voice sub-state."""

    self_mute: bool = False
    self_deaf: bool = False
    self_stream: bool = False
    self_video: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One live event. kind: ``message``, ``reaction``, ``voice``, ``join`` or ``leave``."""

    at: int
    kind: str
    user: str
    message: Message | None = None  # message; reaction: the message index in ``message_index``
    message_index: int | None = None
    emoji: str | None = None
    channel: str | None = None  # voice: the channel, None to leave voice
    flags: VoiceFlags = VoiceFlags()
    invite: str | None = None


@dataclass(slots=True)
class Community:
    """The whole synthetic guild: setup, history and the live script."""

    seed: int
    anchor: int
    name: str
    roles: tuple[str, ...]
    members: list[Member]
    channels: list[Channel]
    invites: list[Invite]
    history: list[Message]
    live: list[Event]
    joiners: list[str] = field(default_factory=list)
    fading: list[str] = field(default_factory=list)

    def member(self, key: str) -> Member:
        """A member (or joiner) by key."""
        return next(m for m in self.members if m.key == key)

    def humans(self) -> list[str]:
        """The keys of the initial non-bot members."""
        return [m.key for m in self.members if not m.bot and m.key not in self.joiners]

    def with_role(self, role: str) -> list[str]:
        """The keys of the members holding a role."""
        return [m.key for m in self.members if role in m.roles]

    def messages(self) -> list[Message]:
        """Every message, history then live, by index."""
        return self.history + [e.message for e in self.live if e.message is not None and e.kind == "message"]


@dataclass(slots=True)
class Totals:
    """Message figures of one (channel, member, hour)."""

    messages: int = 0
    characters: int = 0
    attachments: int = 0
    replies: int = 0


@dataclass(slots=True)
class GroundTruth:
    """What the bot must have stored after backfill and the live script, keyed by names."""

    messages: dict[tuple[str, str, int], Totals]
    emojis: Counter[tuple[str, str, str]]  # (member, emoji, kind) -> count
    voice: dict[tuple[str, str, int], Counter[str]]  # (channel, member, hour) -> bucket -> seconds
    joins: dict[str, str]  # joiner -> invite code

    def member_messages(self) -> Counter[str]:
        """Messages per member."""
        out: Counter[str] = Counter()
        for (_c, u, _h), t in self.messages.items():
            out[u] += t.messages
        return out

    def member_voice(self) -> dict[str, Counter[str]]:
        """Voice seconds per member and bucket."""
        out: dict[str, Counter[str]] = {}
        for (_c, u, _h), b in self.voice.items():
            out.setdefault(u, Counter()).update(b)
        return out


def _content(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """Random text with unicode and custom emojis; returns the text and its emojis as stored."""
    parts: list[str] = []
    emojis: list[str] = []
    for _ in range(rng.randint(1, 9)):
        roll = rng.random()
        if roll < 0.12:
            e = rng.choice(UNICODE_EMOJIS)
            parts.append(e)
            emojis.append(e)
        elif roll < 0.17:
            name, emoji_id = rng.choice(CUSTOM_EMOJIS)
            token = f"<:{name}:{emoji_id}>"
            parts.append(token)
            emojis.append(token)
        else:
            parts.append(rng.choice(WORDS))
    return " ".join(parts), tuple(emojis)


def _layout() -> tuple[list[Channel], tuple[str, ...]]:
    channels = [
        Channel("general", "text"),
        Channel("homework-help", "text"),
        Channel("off-topic", "text"),
        Channel("reports", "text"),
        Channel("questions", "forum"),
        Channel("How do I revise for finals?", "thread", parent="questions"),
        Channel("algebra-thread", "thread", parent="homework-help"),
        Channel("Study Room 1", "voice"),
        Channel("Study Room 2", "voice"),
        Channel("Lounge", "voice"),
        Channel("AFK", "voice", afk=True),
    ]
    return channels, ("Admin", "Mentor", "Member")


TALK_CHANNELS: Final = ("general", "homework-help", "off-topic", "How do I revise for finals?", "algebra-thread")
VOICE_CHANNELS: Final = ("Study Room 1", "Study Room 2", "Lounge")


def build_community(seed: int = 7, anchor: datetime | None = None) -> Community:
    """The community for ``seed``; history ends and the live script starts at ``anchor`` (UTC)."""
    rng = random.Random(seed)
    start = anchor or datetime(2026, 11, 16, 12, tzinfo=UTC)
    t0 = int(start.timestamp())
    channels, roles = _layout()
    members = [Member("morgan", roles=("Admin", "Member"), joined_days_ago=400)]
    members += [Member(n, roles=("Mentor", "Member"), joined_days_ago=300) for n in FIRST_NAMES[:3]]
    members += [Member(n, roles=("Member",), joined_days_ago=rng.randint(25, 200)) for n in FIRST_NAMES[3:32]]
    members += [Member("helperbot", bot=True), Member("musicbot", bot=True)]
    joiners = list(FIRST_NAMES[32:36])
    members += [Member(n, roles=(), joined_days_ago=0) for n in joiners]
    invites = [
        Invite("study2026", "general", "alice"),
        Invite("mentorjoin", "homework-help", "bruno", max_uses=1),
        Invite("welcome", "general", "morgan"),
    ]
    humans = [m.key for m in members if not m.bot and m.key not in joiners]
    # Activity levels: a few very active members, most moderate, some quiet.
    weight = {k: rng.choice((0.2, 0.5, 1.0, 1.0, 2.0, 4.0)) for k in humans}
    # A few members drifting away: there nearly every day for weeks, silent for the last days.
    plain = [m.key for m in members if m.roles == ("Member",)]
    fading = sorted(rng.sample(plain, FADING_MEMBERS))
    members = [Member(m.key, m.roles, m.bot, max(m.joined_days_ago, 90)) if m.key in fading else m for m in members]
    joined = {m.key: m.joined_days_ago for m in members}
    history: list[Message] = []
    for day in range(HISTORY_DAYS, 0, -1):
        for key in humans:
            if day > joined[key]:
                continue  # not a member yet
            if key in fading:
                count = 0 if day < FADING_SILENCE_DAYS or rng.random() < 0.1 else rng.randint(1, 3)
            else:
                count = rng.randint(0, round(3 * weight[key]))
            for _ in range(count):
                at = t0 - day * DAY + rng.randint(0, DAY - 2 * HOUR)
                history.append(_message(rng, len(history), rng.choice(TALK_CHANNELS), key, at, history))
        for _ in range(2):  # bots post too; never counted
            at = t0 - day * DAY + rng.randint(0, DAY - 2 * HOUR)
            history.append(_message(rng, len(history), "general", rng.choice(("helperbot", "musicbot")), at, []))
    history.sort(key=lambda m: (m.at, m.index))
    history = _reindex(history)
    present = [k for k in humans if k not in fading]
    live = _live_script(rng, t0, present, joiners, invites, len(history), history)
    return Community(seed, t0, "Study Hall", roles, members, channels, invites, history, live, joiners, fading)


def _message(rng: random.Random, index: int, channel: str, author: str, at: int, earlier: list[Message]) -> Message:
    content, emojis = _content(rng)
    same = [m.index for m in earlier[-40:] if m.channel == channel]
    reply_to = rng.choice(same) if same and rng.random() < 0.2 else None
    attachments = rng.choice((0, 0, 0, 0, 0, 0, 1, 2)) if author not in ("helperbot", "musicbot") else 0
    return Message(index, channel, author, at, content, attachments, reply_to, emojis)


def _reindex(messages: list[Message]) -> list[Message]:
    """Number messages in time order, keeping replies pointing at earlier messages (else none)."""
    new_index = {m.index: i for i, m in enumerate(messages)}
    out: list[Message] = []
    for i, m in enumerate(messages):
        reply = new_index.get(m.reply_to) if m.reply_to is not None else None
        if reply is not None and reply >= i:
            reply = None
        out.append(Message(i, m.channel, m.author, m.at, m.content, m.attachments, reply, m.emojis))
    return out


def _live_script(
    rng: random.Random,
    t0: int,
    humans: list[str],
    joiners: list[str],
    invites: list[Invite],
    first_index: int,
    history: list[Message],
) -> list[Event]:
    """Messages, reactions, voice sessions, joins and leaves over LIVE_SECONDS from t0."""
    events: list[Event] = []
    earlier = list(history)
    index = first_index
    # Messages at distinct seconds.
    times = sorted(rng.sample(range(t0 + 60, t0 + LIVE_SECONDS - 600), 120))
    for at in times:
        m = _message(rng, index, rng.choice(TALK_CHANNELS), rng.choice(humans), at, earlier)
        earlier.append(m)
        events.append(Event(at, "message", m.author, message=m))
        index += 1
    live_messages = [e.message for e in events if e.message is not None]
    for _ in range(40):
        target = rng.choice(live_messages)
        at = target.at + rng.randint(5, 300)
        emoji = rng.choice((*UNICODE_EMOJIS[:6], f"<:{CUSTOM_EMOJIS[0][0]}:{CUSTOM_EMOJIS[0][1]}>"))
        events.append(Event(at, "reaction", rng.choice(humans), message_index=target.index, emoji=emoji))
    # Voice: 12 members, each one or two sessions with sub-state changes and moves.
    for key in rng.sample(humans, 12):
        t = t0 + rng.randint(0, 3600)
        for _ in range(rng.randint(1, 2)):
            room = rng.choice(VOICE_CHANNELS)
            events.append(Event(t, "voice", key, channel=room))
            for _ in range(rng.randint(0, 3)):
                if t > t0 + LIVE_SECONDS - 3000:
                    break
                t += rng.randint(120, 1500)
                if rng.random() < 0.15:
                    room = "AFK"
                elif rng.random() < 0.3:
                    room = rng.choice(VOICE_CHANNELS)
                flags = VoiceFlags(
                    self_mute=rng.random() < 0.3,
                    self_deaf=rng.random() < 0.1,
                    self_stream=rng.random() < 0.2,
                    self_video=rng.random() < 0.1,
                )
                events.append(Event(t, "voice", key, channel=room, flags=flags))
            t = min(t + rng.randint(120, 1800), t0 + LIVE_SECONDS - 60)
            events.append(Event(t, "voice", key, channel=None))
            t += rng.randint(60, 900)
            if t > t0 + LIVE_SECONDS - 1200:
                break
    # Joins through invites, one minute apart at least; one joiner leaves again, so does an old member.
    codes = [inv.code for inv in invites]
    for i, key in enumerate(joiners):
        code = codes[i] if i < len(codes) else codes[0]
        events.append(Event(t0 + 900 + i * 1800, "join", key, invite=code))
    events.append(Event(t0 + LIVE_SECONDS - 300, "leave", joiners[0]))
    quiet = [h for h in humans if not any(e.user == h for e in events)]
    events.append(Event(t0 + LIVE_SECONDS - 240, "leave", quiet[-1] if quiet else humans[-1]))
    order = {"join": 0, "voice": 1, "message": 2, "reaction": 3, "leave": 4}
    events.sort(key=lambda e: (e.at, order[e.kind]))
    return events


def ground_truth(community: Community) -> GroundTruth:
    """The figures the bot must store, computed from the script alone."""
    bots = {m.key for m in community.members if m.bot}
    messages: dict[tuple[str, str, int], Totals] = {}
    emojis: Counter[tuple[str, str, str]] = Counter()
    for m in community.messages():
        if m.author in bots:
            continue
        t = messages.setdefault((m.channel, m.author, m.at - m.at % HOUR), Totals())
        t.messages += 1
        t.characters += len(m.content)
        t.attachments += m.attachments
        t.replies += m.reply_to is not None
        for e in m.emojis:
            emojis[(m.author, e, "message")] += 1
    for ev in community.live:
        if ev.kind == "reaction" and ev.emoji is not None:
            emojis[(ev.user, ev.emoji, "reaction")] += 1
    joins = {e.user: e.invite for e in community.live if e.kind == "join" and e.invite is not None}
    return GroundTruth(messages, emojis, _voice_truth(community), joins)


def _voice_truth(community: Community) -> dict[tuple[str, str, int], Counter[str]]:
    """Voice seconds per (channel, member, hour) and bucket, second by second between events."""
    afk = {c.key for c in community.channels if c.afk}
    where: dict[str, str] = {}
    flags: dict[str, VoiceFlags] = {}
    out: dict[tuple[str, str, int], Counter[str]] = {}
    last = community.anchor
    for e in community.live:
        if e.kind not in ("voice", "leave"):
            continue
        for t in range(last, e.at):
            for user, room in where.items():
                if room in afk:
                    continue
                f = flags[user]
                if f.self_deaf:
                    bucket = "deafened_s"
                elif f.self_mute:
                    bucket = "muted_s"
                elif sum(1 for r in where.values() if r == room) <= 1:
                    bucket = "alone_s"
                else:
                    bucket = "active_s"
                c = out.setdefault((room, user, t - t % HOUR), Counter())
                c[bucket] += 1
                c["streaming_s"] += f.self_stream
                c["video_s"] += f.self_video
        last = max(last, e.at)
        if e.kind == "leave" or e.channel is None:
            where.pop(e.user, None)
            flags.pop(e.user, None)
        else:
            where[e.user] = e.channel
            flags[e.user] = e.flags
    for c in out.values():
        for b in ("streaming_s", "video_s"):
            if c[b] == 0:
                del c[b]
    return out
