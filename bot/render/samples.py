"""Realistic synthetic report models, for the benchmark, the tests and the README samples.

Every model is built from a seeded generator, so the same call gives the same model.
"""

from __future__ import annotations

import functools
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image, ImageDraw

from bot.render.models import (
    ActivitySeries,
    Change,
    ChannelReport,
    EmojiReport,
    EmojiUse,
    EventAttendee,
    EventHourReport,
    InviteReport,
    InviterRow,
    LeaderboardReport,
    MemberGrowth,
    MentorReport,
    Period,
    RankedItem,
    ServerReport,
    UserReport,
    VoiceBreakdown,
    WeeklyReport,
    WeeklyTotal,
)

TZ = "Europe/Berlin"
GUILD = "Night Owls Study Club"
NAMES = (
    "Aurora", "bytewizard", "Chloé Martin", "dmitri_k", "Elif Yılmaz", "Finn", "gabe.codes", "Hana",
    "Ibrahim", "Jun Park", "Kasia", "Lena Vogel", "Mateo", "Noor", "Olu", "Priya Raman", "Quinn",
    "Rafael Souza", "Sven", "Tomasz", "Uma", "Valentina Rossi", "Wes", "Xiu", "Yara", "Zeke",
    "the_quiet_one", "Ana Lúcia", "Bram", "Céline", "Dara", "Emeka", "Freya", "Goran", "Hiro",
    "Ines", "Jonas", "Kofi", "Lior", "Mina", "Nils", "Oksana", "Pablo", "Rin", "Saoirse", "Taro",
    "Ugo", "Vera", "Wren", "Yusuf",
)  # fmt: skip
CHANNELS = ("general", "homework-help", "off-topic", "announcements", "study-room-logs", "memes", "music")
EMOJIS = ("😂", "❤️", "👍", "🎉", "<:pepe_cry:112233445566778899>", "🔥", "☕", "😀", "🙏", "<a:party_blob:998877>")


def _rng(seed: int) -> np.random.Generator:
    """A seeded generator so that samples are reproducible."""
    return np.random.default_rng(seed)


def _period(days: int, end: datetime | None = None) -> Period:
    """The last ``days`` calendar days ending at the next midnight, in ``TZ``."""
    end = end or datetime(2026, 11, 23, tzinfo=ZoneInfo(TZ))
    label = "Last 24 hours" if days == 1 else f"Last {days} days"
    return Period(label, end - timedelta(days=days), end, TZ)


def _hourly(rng: np.random.Generator, hours: int, scale: float, start_hour: int = 0) -> np.ndarray:
    """A daily rhythm (quiet nights, busy evenings) with noise."""
    hour = (np.arange(hours) + start_hour) % 24
    rhythm = 0.15 + np.clip(np.sin((hour - 7) / 24 * 2 * np.pi), 0, None) + 0.6 * np.exp(-((hour - 21) ** 2) / 6)
    return np.round(rhythm * scale * rng.gamma(4, 0.25, hours)).astype(np.float64)


def _heatmap(rng: np.random.Generator, scale: float) -> np.ndarray:
    """A 7×24 hour-of-week heatmap with an evening peak."""
    hour = np.arange(24)
    evening = np.exp(-((hour - 20.5) ** 2) / 8) + 0.5 * np.exp(-((hour - 13) ** 2) / 6) + 0.02
    days = np.array([1.0, 0.9, 1.0, 0.8, 0.7, 0.45, 0.55])[:, None]
    return np.round(scale * days * evening * rng.gamma(3, 1 / 3, (7, 24)))


@functools.lru_cache(maxsize=64)
def sample_png(seed: int, size: int = 64) -> bytes:
    """A made-up picture (an avatar or a custom emoji's image): a two-tone disc from ``seed``."""
    rng = _rng(seed)
    a, b = (tuple(int(v) for v in rng.integers(40, 230, 3)) for _ in range(2))
    image = Image.new("RGBA", (size, size))
    draw = ImageDraw.Draw(image)
    draw.ellipse((0, 0, size - 1, size - 1), fill=(*a, 255))
    draw.pieslice((0, 0, size - 1, size - 1), 200, 340, fill=(*b, 255))
    draw.ellipse((size * 0.3, size * 0.35, size * 0.7, size * 0.75), fill=(250, 250, 250, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _members(rng: np.random.Generator, count: int, top: float) -> tuple[RankedItem, ...]:
    """``count`` members with decreasing values; every other one has an avatar (the rest show initials)."""
    values = np.sort(rng.pareto(1.6, count) + 1)[::-1]
    values = values / values[0] * top
    return tuple(
        RankedItem(NAMES[i % len(NAMES)], float(round(v)), 1000 + i * 7919, sample_png(i) if i % 2 == 0 else None)
        for i, v in enumerate(values)
    )


def server(days: int = 7, seed: int = 1) -> ServerReport:
    """A /stats server model over ``days``."""
    rng = _rng(seed)
    step = 1 if days <= 7 else 24
    buckets = days * 24 // step
    msgs = _hourly(rng, buckets, 40 * step) if step == 1 else rng.gamma(8, 100, buckets).round()
    voice = _hourly(rng, buckets, 90 * step) if step == 1 else rng.gamma(6, 300, buckets).round()
    period = _period(days)
    channels = tuple(
        RankedItem(name, v, 500 + i)
        for i, (name, v) in enumerate(zip(CHANNELS[:5], np.sort(rng.integers(80, 2400, 5))[::-1], strict=True))
    )
    return ServerReport(
        guild_name=GUILD,
        period=period,
        messages=int(msgs.sum()),
        voice_minutes=float(voice.sum()),
        active_members=87,
        series=ActivitySeries(period.start, step, msgs, voice),
        top_channels=tuple(RankedItem(c.name, float(c.value), c.id) for c in channels),
        top_members=_members(rng, 5, 812),
        changes=(
            Change("Messages", int(msgs.sum()), round(msgs.sum() / 1.12)),
            Change("Voice minutes", round(voice.sum()), round(voice.sum() / 0.93)),
            Change("Active members", 87, 81),
        ),
        compared_with=f"previous {days} days" if days > 1 else "previous 24 hours",
        growth=MemberGrowth(joins=12, leaves=7),
    )


def user(seed: int = 2) -> UserReport:
    """A /stats user model."""
    rng = _rng(seed)
    return UserReport(
        guild_name=GUILD,
        period=_period(30),
        user_id=4242,
        display_name="Valentina Rossi",
        avatar_png=sample_png(7),
        messages=1284,
        voice=VoiceBreakdown(active=1710, muted=420, deafened=35, alone=260, streaming=180, video=45),
        heatmap=_heatmap(rng, 14),
        rank=4,
        ranked_members=87,
        top_channels=(RankedItem("general", 612, 1), RankedItem("homework-help", 401, 2), RankedItem("memes", 171, 3)),
        top_emojis=(
            EmojiUse("😂", 88, 40),
            EmojiUse("<:pepe_cry:1122>", 31, 12, sample_png(101)),
            EmojiUse("🎉", 9, 30),
            EmojiUse("☕", 20, 2),
        ),
        changes=(Change("Messages", 1284, 1150), Change("Voice minutes", 2425, 2610)),
        compared_with="previous 30 days",
    )


def channel(seed: int = 3) -> ChannelReport:
    """A /stats channel model."""
    base = server(7, seed)
    return ChannelReport(
        guild_name=GUILD,
        period=base.period,
        channel_name="homework-help",
        messages=base.messages // 3,
        voice_minutes=0.0,
        active_members=31,
        series=ActivitySeries(base.series.start, 1, base.series.messages / 3, np.zeros_like(base.series.messages)),
        top_members=_members(_rng(seed), 10, 240),
        changes=(
            Change("Messages", base.messages // 3, base.messages // 4),
            Change("Voice minutes", 0, 0),
            Change("Active members", 31, 31),
        ),
        compared_with="previous 7 days",
    )


def leaderboard(count: int = 10, seed: int = 4) -> LeaderboardReport:
    """A /top voice model with ``count`` entries."""
    return LeaderboardReport(GUILD, _period(7), "Voice", "minutes", _members(_rng(seed), count, 1935))


def emojis(seed: int = 5) -> EmojiReport:
    """An /emojis model."""
    rng = _rng(seed)
    uses = [
        EmojiUse(e, int(rng.integers(5, 300)), int(rng.integers(0, 200)), sample_png(100 + i) if "<" in e else None)
        for i, e in enumerate(EMOJIS)
    ]
    return EmojiReport(GUILD, _period(30), tuple(sorted(uses, key=lambda u: -u.total)))


def invites(seed: int = 6) -> InviteReport:
    """An /invites model."""
    rng = _rng(seed)
    rows = []
    for i in range(6):
        joins = int(rng.integers(1, 25))
        rows.append(InviterRow(NAMES[i * 3], int(rng.integers(1, 5)), joins, int(rng.integers(0, joins + 1)), 2000 + i))
    return InviteReport(GUILD, _period(30), tuple(rows), vanity_joins=4, unknown_joins=2)


def event_hour(members: int = 14, seed: int = 7) -> EventHourReport:
    """An event-hour model: members arriving late, leaving early, dropping out for a while."""
    rng = _rng(seed)
    attendees = []
    for i in range(members):
        present = np.zeros(60, dtype=bool)
        arrive = int(rng.choice([0, 0, 0, 2, 5, 12, 30]))
        leave = int(rng.choice([60, 60, 60, 55, 45, 38]))
        present[arrive:leave] = True
        if rng.random() < 0.3:
            gap = int(rng.integers(10, 40))
            present[gap : gap + int(rng.integers(2, 9))] = False
        attendees.append(EventAttendee(NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i}"), present, 3000 + i))
    start = datetime(2026, 11, 22, 7, 0, tzinfo=ZoneInfo(TZ))
    return EventHourReport(
        GUILD, "Morning study session", start, 60, tuple(attendees), TZ, ("Study Room 1", "Study Room 2")
    )


def weekly(seed: int = 8) -> WeeklyReport:
    """A weekly summary model."""
    rng = _rng(seed)
    start = datetime(2026, 11, 16, tzinfo=ZoneInfo(TZ))
    return WeeklyReport(
        guild_name=GUILD,
        period=Period("Week 2026-W47", start, start + timedelta(days=7), TZ),
        totals=(
            WeeklyTotal("Messages", 6012, 5480),
            WeeklyTotal("Voice minutes", 18440, 21010),
            WeeklyTotal("Active members", 64, 61),
            WeeklyTotal("Event minutes", 2315, 2315),
        ),
        top_messages=_members(rng, 5, 640),
        top_voice=_members(_rng(seed + 1), 5, 1320),
        attendance=_members(_rng(seed + 2), 8, 1260),
        never_present=("Olu", "Quinn", "Sven", "the_quiet_one", "Uma", "Wes", "Xiu"),
        events_held=21,
    )


def mentor(seed: int = 9) -> MentorReport:
    """A mentor card model for a member whose activity is fading."""
    rng = _rng(seed)
    days = 30
    fade = np.linspace(1.0, 0.25, days)
    daily = np.round(rng.gamma(3, 8, days) * fade * (rng.random(days) > 0.2))
    return MentorReport(
        guild_name=GUILD,
        period=_period(days),
        user_id=5151,
        display_name="dmitri_k",
        messages=int(daily.sum()),
        voice_minutes=2210,
        active_days=int(np.count_nonzero(daily)),
        period_days=days,
        current_streak=2,
        longest_streak=9,
        regularity=float(np.count_nonzero(daily)) / days,
        weekday_spread=0.71,
        heatmap=_heatmap(rng, 6),
        daily_activity=daily,
        trend_pct=-58.0,
        engagement=46,
        risk="medium",
        risk_reason="Activity in the last 7 days is 58% below this member's earlier weekly average.",
        last_seen=datetime(2026, 11, 21, 22, 14, tzinfo=ZoneInfo(TZ)),
        trend_word="falling",
    )


def write_samples(directory: str) -> list[str]:
    """Render one sample of every report kind into ``directory`` as ``sample-<kind>.png``."""
    from pathlib import Path

    from bot.render.reports import RENDERERS, render

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in RENDERERS:
        path = out / f"sample-{kind}.png"
        path.write_bytes(render(kind, globals()[kind]()))
        written.append(str(path))
    return written


if __name__ == "__main__":
    import sys

    for written_path in write_samples(sys.argv[1] if len(sys.argv) > 1 else "docs"):
        print(written_path)  # noqa: T201
