"""Text helpers: emoji names, glyph fallbacks, ellipsis, placeholder avatars, number formats."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from bot.render import theme as th
from bot.render.models import ActivitySeries, Period


def test_emoji_label_uses_glyph_only_when_dejavu_has_it() -> None:
    assert th.emoji_label("☕") == "☕  hot beverage"
    assert th.emoji_label("🎉") == "party popper"  # no DejaVu glyph: the CLDR name, never a tofu box
    assert th.emoji_label("❤️") == "❤  red heart"
    assert th.emoji_label("<:pepe_cry:1234>") == ":pepe_cry:"
    assert th.emoji_label("<a:party_blob:99>") == ":party_blob:"
    assert th.emoji_label("👍🏽") == "thumbs up medium skin tone"


def test_safe_text_drops_undrawable_characters() -> None:
    assert th.safe_text("Ana 🎉 Lúcia") == "Ana Lúcia"
    assert th.safe_text("🎉🎉") == "?"
    assert th.safe_text("中文", "member") == "member"
    assert th.drawable("abc") == "abc"
    assert th.drawable("a🎉☕") == "a☕"


def test_fit_text() -> None:
    fnt = th.font(20)
    assert th.fit_text("short", fnt, 500) == "short"
    cut = th.fit_text("a rather long label " * 5, fnt, 120)
    assert cut.endswith("…")
    assert fnt.getlength(cut) <= 120


def test_placeholder_avatar_colour_and_initials() -> None:
    assert th.user_colour(42) == th.user_colour(42)
    assert len({th.user_colour(i) for i in range(200)}) > 5
    assert th.initials("Valentina Rossi") == "VR"
    assert th.initials("dmitri_k") == "DK"
    assert th.initials("Aurora") == "AU"
    assert th.initials("🎉") == "?"


def test_number_formats() -> None:
    assert th.fmt_int(12345.4) == "12,345"
    assert th.fmt_compact(950) == "950"
    assert th.fmt_compact(1500) == "1.5k"
    assert th.fmt_compact(2000) == "2k"
    assert th.fmt_compact(2_500_000) == "2.5M"
    assert th.fmt_minutes(45) == "45 min"
    assert th.fmt_minutes(185) == "3 h 05 min"
    assert th.fmt_minutes(120) == "2 h"


def test_period_describe() -> None:
    tz = ZoneInfo("Europe/Paris")
    week = Period("Last 7 days", datetime(2026, 11, 16, tzinfo=tz), datetime(2026, 11, 23, tzinfo=tz), "Europe/Paris")
    assert week.describe() == "Last 7 days · 16 Nov – 22 Nov 2026 (Europe/Paris)"
    day = Period(
        "Last 24 hours", datetime(2026, 11, 21, 16, tzinfo=tz), datetime(2026, 11, 22, 16, tzinfo=tz), "Europe/Paris"
    )
    assert day.describe() == "Last 24 hours · 21 Nov 16:00 – 22 Nov 2026 16:00 (Europe/Paris)"
    year = Period("365d", datetime(2025, 11, 23, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    assert year.describe() == "Last 365 days · 23 Nov 2025 – 22 Nov 2026 (UTC)"


def test_utc_bounds_are_shown_in_the_guild_timezone() -> None:
    # The local week 16–22 Nov in Tokyo starts at 15:00 UTC the day before.
    week = Period("7d", datetime(2026, 11, 15, 15, tzinfo=UTC), datetime(2026, 11, 22, 15, tzinfo=UTC), "Asia/Tokyo")
    assert week.describe() == "Last 7 days · 16 Nov – 22 Nov 2026 (Asia/Tokyo)"


def test_bucket_starts_across_dst() -> None:
    zeros = np.zeros(4)
    # Europe/Berlin leaves summer time on 25 Oct 2026 at 03:00 local (01:00 UTC).
    hourly = ActivitySeries(datetime(2026, 10, 24, 23, tzinfo=UTC), 1, zeros, zeros, "Europe/Berlin")
    assert [f"{t:%H:%M}" for t in hourly.bucket_starts()] == ["01:00", "02:00", "02:00", "03:00"]
    daily = ActivitySeries(datetime(2026, 10, 23, 22, tzinfo=UTC), 24, zeros, zeros, "Europe/Berlin")
    assert [f"{t:%d %H:%M}" for t in daily.bucket_starts()] == ["24 00:00", "25 00:00", "26 00:00", "27 00:00"]


def test_emoji_glyph() -> None:
    assert th.emoji_glyph("☕") == "☕"
    assert th.emoji_glyph("❤️") == "❤"
    assert th.emoji_glyph("🎉") == ""
    assert th.emoji_glyph("<:pepe_cry:1234>") == ""
    assert th.emoji_glyph("👍🏽") == ""
