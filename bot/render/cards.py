"""Card reports about one member: the /stats user card and the mentor card."""

from __future__ import annotations

from bot.render import theme as th
from bot.render.alt import last_seen_text, trend_text
from bot.render.canvas import Bar, Box, Canvas
from bot.render.charts import GAP, TILE_H, ranked_bars
from bot.render.models import MentorReport, UserReport, VoiceBreakdown, to_zone
from bot.render.plot import sparkline
from bot.render.theme import CARD_SIZE, DARK, MARGIN, RGB, Theme

PROFILE_TOP = th.HEADER_H + 10
AVATAR_D = 88
RISK_WORDS = {"low": "Low risk", "medium": "Medium risk", "high": "High risk"}


def voice_parts(voice: VoiceBreakdown, theme: Theme) -> list[tuple[str, float, RGB]]:
    """The four exclusive voice buckets with their colours, in display order."""
    return [
        ("Active", voice.active, theme.voice),
        ("Muted", voice.muted, theme.muted_voice),
        ("Deafened", voice.deafened, theme.deafened),
        ("Alone", voice.alone, theme.alone),
    ]


def _profile(canvas: Canvas, box: Box, user_id: int, name: str, avatar: bytes | None, lines: list[str]) -> None:
    """A panel with the member's avatar, name and a line or two about them."""
    left, top, right, bottom = box
    canvas.draw.rounded_rectangle(box, radius=12, fill=canvas.theme.surface)
    cy = (top + bottom) // 2
    canvas.avatar((left + 20, cy - AVATAR_D // 2), AVATAR_D, user_id, name, avatar)
    text_left = left + 20 + AVATAR_D + 18
    width = right - text_left - 16
    y = cy - (17 + 14 * len(lines))
    canvas.text((text_left, y), th.safe_text(name, f"#{user_id}"), 30, weight="bold", max_width=width)
    for i, line in enumerate(lines):
        canvas.text((text_left, y + 44 + i * 26), line, th.SMALL_PX, colour=canvas.theme.text_muted, max_width=width)


def _voice_panel(canvas: Canvas, box: Box, voice: VoiceBreakdown) -> None:
    """Voice minutes by sub-state: one stacked bar, its legend with minutes, streaming and video overlays."""
    t = canvas.theme
    inner = canvas.panel(box, "Voice by state", f"{th.fmt_minutes(voice.total)} in voice")
    left, top, right, _bottom = inner
    if voice.total <= 0:
        canvas.empty_note(inner, "No voice time in this period")
        return
    bar_h = 26
    canvas.draw.rounded_rectangle((left, top, right, top + bar_h), radius=6, fill=t.surface_alt)
    x = float(left)
    span = right - left
    for _, minutes, colour in voice_parts(voice, t):
        if minutes <= 0:
            continue
        end = x + max(span * minutes / voice.total, 3.0)
        canvas.draw.rectangle((int(x), top, int(min(end, right)), top + bar_h), fill=colour)
        x = end
    # Overlays: the share of voice time also streaming / on camera, under the main bar.
    for i, (minutes, colour) in enumerate(((voice.streaming, t.streaming), (voice.video, t.video))):
        y = top + bar_h + 8 + i * 10
        canvas.draw.rectangle((left, y, right, y + 5), fill=t.surface_alt)
        if minutes > 0:
            canvas.draw.rectangle(
                (left, y, left + max(int(span * min(minutes / voice.total, 1.0)), 3), y + 5), fill=colour
            )
    entries = [*voice_parts(voice, t), ("Streaming", voice.streaming, t.streaming), ("Video", voice.video, t.video)]
    col_w = span // 3
    for i, (label, minutes, colour) in enumerate(entries):
        x0 = left + (i % 3) * col_w
        y0 = top + bar_h + 42 + (i // 3) * 30
        canvas.draw.rounded_rectangle((x0, y0 - 7, x0 + 14, y0 + 7), radius=3, fill=colour)
        w = canvas.text((x0 + 22, y0), label, th.SMALL_PX, colour=t.text_muted, anchor="lm")
        canvas.text(
            (x0 + 28 + w, y0),
            th.fmt_minutes(minutes),
            th.SMALL_PX,
            weight="bold",
            anchor="lm",
            max_width=col_w - w - 32,
        )


def render_user(model: UserReport, *, theme: Theme = DARK) -> bytes:
    """The /stats user image: the member's figures, voice by state, heatmap, channels and emojis."""
    canvas = Canvas(CARD_SIZE, theme)
    width, height = CARD_SIZE
    canvas.header(model.guild_name, model.period.describe(), "Member")
    profile_right = 440
    favourite = model.top_channels[0].name if model.top_channels else None
    about = f"Most active in #{th.safe_text(favourite)}" if favourite else "Member"
    _profile(
        canvas,
        (MARGIN, PROFILE_TOP, profile_right, PROFILE_TOP + TILE_H),
        model.user_id,
        model.display_name,
        model.avatar_png,
        [about],
    )
    tiles = (
        ("Messages", th.fmt_int(model.messages), theme.messages, None),
        ("Voice minutes", th.fmt_int(model.voice.total), theme.voice, th.fmt_minutes(model.voice.total)),
        (
            "Rank by messages",
            f"#{model.rank}" if model.rank else "–",
            theme.accent,
            f"of {model.ranked_members} members" if model.rank else "not ranked",
        ),
    )
    tile_w = (width - MARGIN - profile_right - 3 * GAP) // 3
    for i, (label, value, colour, sub) in enumerate(tiles):
        x0 = profile_right + GAP + i * (tile_w + GAP)
        canvas.stat_tile(
            (x0, PROFILE_TOP, x0 + tile_w, PROFILE_TOP + TILE_H), label, value, colour=colour, sub=sub, sub_space=True
        )

    body_top = PROFILE_TOP + TILE_H + GAP
    bottom = height - MARGIN
    split = 740
    heat_bottom = body_top + 318
    inner = canvas.panel(
        (MARGIN, body_top, split, heat_bottom), "Activity by hour of week", f"messages · {model.period.timezone}"
    )
    canvas.heatmap(inner, model.heatmap, unit="messages")
    _voice_panel(canvas, (MARGIN, heat_bottom + GAP, split, bottom), model.voice)

    right = width - MARGIN
    middle = body_top + 250
    inner = canvas.panel((split + GAP, body_top, right, middle), "Top channels", "messages")
    canvas.hbars(inner, ranked_bars(model.top_channels[:4], theme.messages, "messages", prefix="#"))
    inner = canvas.panel((split + GAP, middle + GAP, right, bottom), "Top emojis", "uses")
    bars = [
        Bar(
            th.emoji_name(use.emoji),
            ((use.message, theme.messages), (use.reaction, theme.reaction)),
            th.fmt_int(use.total),
            icon=th.emoji_glyph(use.emoji),
        )
        for use in model.top_emojis[:4]
    ]
    canvas.hbars(inner, bars, label_w=int((inner[2] - inner[0]) * 0.62))
    return canvas.png()


def _risk_colour(risk: str, theme: Theme) -> RGB:
    """Green, amber or red for a drop-off risk."""
    return {"low": theme.good, "medium": theme.warn, "high": theme.bad}.get(risk, theme.alone)


def _gauge(canvas: Canvas, box: Box, score: int) -> None:
    """The engagement score: a big number over a 0–100 bar coloured by band."""
    t = canvas.theme
    inner = canvas.panel(box, "Engagement score")
    left, top, right, bottom = inner
    score = max(0, min(100, score))
    colour = t.bad if score < 34 else (t.warn if score < 67 else t.good)
    w = canvas.text((left, top + 2), str(score), 48, weight="bold")
    canvas.text((left + w + 6, top + 44), "/ 100 · standing in the guild", th.BODY_PX, colour=t.text_muted, anchor="ls")
    bar_top = bottom - 30
    canvas.draw.rounded_rectangle((left, bar_top, right, bar_top + 14), radius=7, fill=t.surface_alt)
    canvas.draw.rounded_rectangle(
        (left, bar_top, left + max(14, int((right - left) * score / 100)), bar_top + 14), radius=7, fill=colour
    )
    for mark in (0, 50, 100):
        x = left + (right - left) * mark / 100
        anchor = "la" if mark == 0 else ("ra" if mark == 100 else "ma")
        canvas.text((x, bar_top + 18), str(mark), 14, colour=t.text_dim, anchor=anchor)


def render_mentor(model: MentorReport, *, theme: Theme = DARK) -> bytes:
    """The mentor card: figures, streaks, regularity, heatmap, trend, engagement and drop-off risk."""
    canvas = Canvas(CARD_SIZE, theme)
    width, height = CARD_SIZE
    canvas.header(model.guild_name, model.period.describe(), "Mentor card")
    top = PROFILE_TOP
    row_h = 150
    split = 760
    # Profile with the risk badge and its reason.
    box = (MARGIN, top, split, top + row_h)
    canvas.draw.rounded_rectangle(box, radius=12, fill=theme.surface)
    canvas.avatar((MARGIN + 20, top + 20), AVATAR_D, model.user_id, model.display_name, model.avatar_png)
    text_left = MARGIN + 20 + AVATAR_D + 18
    risk_colour = _risk_colour(model.risk, theme)
    badge = RISK_WORDS.get(model.risk, model.risk).upper()
    badge_w = th.text_width(badge, th.font(th.SMALL_PX, "bold")) + 28
    canvas.draw.rounded_rectangle((split - 18 - badge_w, top + 18, split - 18, top + 50), radius=16, fill=risk_colour)
    canvas.text(
        (split - 18 - badge_w // 2, top + 34), badge, th.SMALL_PX, weight="bold", colour=(20, 20, 22), anchor="mm"
    )
    name_w = split - 18 - badge_w - 16 - text_left
    canvas.text(
        (text_left, top + 16),
        th.safe_text(model.display_name, f"#{model.user_id}"),
        30,
        weight="bold",
        max_width=name_w,
    )
    canvas.text(
        (text_left, top + 56),
        last_seen_text(model.last_seen, model.period.timezone),
        th.SMALL_PX,
        colour=theme.text_muted,
        max_width=name_w,
    )
    canvas.paragraph(
        (text_left, top + 86), model.risk_reason, split - 20 - text_left, th.SMALL_PX, colour=theme.text, lines=2
    )
    _gauge(canvas, (split + GAP, top, width - MARGIN, top + row_h), model.engagement)

    # Key figures.
    tiles_top = top + row_h + GAP
    tile_h = 112
    tiles = (
        ("Messages", th.fmt_int(model.messages), theme.messages, None),
        ("Voice minutes", th.fmt_int(model.voice_minutes), theme.voice, th.fmt_minutes(model.voice_minutes)),
        (
            "Active days",
            f"{model.active_days} / {model.period_days}",
            theme.accent,
            f"regularity {model.regularity:.0%}",
        ),
        (
            "Current streak",
            f"{model.current_streak} day{'' if model.current_streak == 1 else 's'}",
            theme.warn,
            f"longest {model.longest_streak} days",
        ),
    )
    tile_w = (width - 2 * MARGIN - 3 * GAP) // 4
    for i, (label, value, colour, sub) in enumerate(tiles):
        x0 = MARGIN + i * (tile_w + GAP)
        canvas.stat_tile(
            (x0, tiles_top, x0 + tile_w, tiles_top + tile_h), label, value, colour=colour, sub=sub, sub_space=True
        )

    body_top = tiles_top + tile_h + GAP
    bottom = height - MARGIN
    inner = canvas.panel(
        (MARGIN, body_top, split, bottom),
        "Activity by hour of week",
        f"spread over the week {model.weekday_spread:.0%}",
    )
    canvas.heatmap(inner, model.heatmap, unit="messages")
    trend_colour = theme.text_muted
    if model.trend_pct is not None and abs(model.trend_pct) >= 0.5:
        trend_colour = theme.good if model.trend_pct > 0 else theme.bad
    note = f"{model.trend_word} · {model.period_days} days" if model.trend_word else f"{model.period_days} days"
    inner = canvas.panel((split + GAP, body_top, width - MARGIN, bottom), "Daily activity", note)
    left, itop, right, ibottom = inner
    canvas.text(
        (left, itop),
        # The word is in the panel's note; here it only stands in when there is no ratio.
        trend_text(model.trend_pct, "" if model.trend_pct is not None else model.trend_word),
        th.BODY_PX,
        weight="bold",
        colour=trend_colour,
        max_width=right - left,
    )
    canvas.text(
        (left, itop + 28),
        "last 7 days against earlier weeks",
        th.SMALL_PX,
        colour=theme.text_dim,
        max_width=right - left,
    )
    spark = (left, itop + 70, right, ibottom - 26)
    days = len(model.daily_activity)
    if days > 7:
        # Shade the last 7 days: the span the trend compares with the weeks before.
        shade_left = left + (right - left) * (days - 7.5) / (days - 1)
        canvas.draw.rectangle(
            (int(shade_left), spark[1] - 8, right, spark[3]), fill=th.mix(theme.surface, theme.text, 0.05)
        )
        canvas.text((right - 4, spark[1] - 4), "last 7 days", 14, colour=theme.text_dim, anchor="ra")
    sparkline(canvas, spark, model.daily_activity, theme.accent)
    canvas.text(
        (left, ibottom),
        f"{to_zone(model.period.start, model.period.timezone):%d %b}",
        th.SMALL_PX,
        colour=theme.text_dim,
        anchor="ld",
    )
    canvas.text((right, ibottom), "today", th.SMALL_PX, colour=theme.text_dim, anchor="rd")
    return canvas.png()
