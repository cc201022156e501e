"""Card reports about one member: the /stats user card and the mentor card."""

from __future__ import annotations

from bot.render import theme as th
from bot.render.alt import last_seen_text, trend_text
from bot.render.canvas import Box, Canvas
from bot.render.charts import GAP, ROW_H, TILE_H, change_line, columns, emoji_bar, ranked_bars, tile_rows
from bot.render.models import MentorReport, UserReport, VoiceBreakdown, to_zone
from bot.render.plot import sparkline
from bot.render.theme import DARK, MARGIN, RGB, Theme

PROFILE_TOP = th.HEADER_H + 6
PROFILE_H = 124
AVATAR_D = 80
NAME_PX = 34
HEAT_H = 290
VOICE_H = 218
LIST_ROWS = 4
USER_SIZE = (
    th.CANVAS_W,
    PROFILE_TOP + PROFILE_H + GAP + TILE_H + GAP + HEAT_H + GAP + VOICE_H + GAP + 54 + LIST_ROWS * ROW_H + 14 + MARGIN,
)
MENTOR_PROFILE_H = 160
MENTOR_ROW_H = 220
MENTOR_SIZE = (
    th.CANVAS_W,
    PROFILE_TOP + MENTOR_PROFILE_H + GAP + 2 * TILE_H + GAP + GAP + MENTOR_ROW_H + GAP + HEAT_H + MARGIN,
)
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
    canvas.avatar((left + 16, cy - AVATAR_D // 2), AVATAR_D, user_id, name, avatar)
    text_left = left + 16 + AVATAR_D + 18
    width = right - text_left - 16
    y = cy - 22 - 15 * len(lines)
    canvas.text((text_left, y), th.safe_text(name, f"#{user_id}"), NAME_PX, weight="bold", max_width=width)
    for i, line in enumerate(lines):
        canvas.text((text_left, y + 46 + i * 30), line, th.SMALL_PX, colour=canvas.theme.text_muted, max_width=width)


def _voice_panel(canvas: Canvas, box: Box, voice: VoiceBreakdown) -> None:
    """Voice minutes by sub-state: one stacked bar, its legend with minutes, streaming and video overlays."""
    t = canvas.theme
    inner = canvas.panel(box, "Voice by state", f"{th.fmt_minutes(voice.total)} in voice")
    left, top, right, _bottom = inner
    if voice.total <= 0:
        canvas.empty_note(inner, "No voice time in this period")
        return
    bar_h = 24
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
        y = top + bar_h + 6 + i * 10
        canvas.draw.rectangle((left, y, right, y + 5), fill=t.surface_alt)
        if minutes > 0:
            canvas.draw.rectangle(
                (left, y, left + max(int(span * min(minutes / voice.total, 1.0)), 3), y + 5), fill=colour
            )
    entries = [*voice_parts(voice, t), ("Streaming", voice.streaming, t.streaming), ("Video", voice.video, t.video)]
    col_w = span // 2
    for i, (label, minutes, colour) in enumerate(entries):
        x0 = left + (i % 2) * col_w
        y0 = top + bar_h + 44 + (i // 2) * 34
        canvas.draw.rounded_rectangle((x0, y0 - 8, x0 + 16, y0 + 8), radius=3, fill=colour)
        w = canvas.text((x0 + 24, y0), label, th.SMALL_PX, colour=t.text_muted, anchor="lm")
        canvas.text(
            (x0 + 32 + w, y0),
            th.fmt_minutes(minutes),
            th.SMALL_PX,
            weight="bold",
            anchor="lm",
            max_width=col_w - w - 40,
        )


def render_user(model: UserReport, *, theme: Theme = DARK) -> bytes:
    """The /stats user image: the member, three key figures, heatmap, voice by state, channels and emojis."""
    canvas = Canvas(USER_SIZE, theme)
    width, height = USER_SIZE
    canvas.header(model.guild_name, model.period.describe(), "Member")
    favourite = model.top_channels[0].name if model.top_channels else None
    about = f"Most active in #{th.safe_text(favourite)}" if favourite else "Member"
    _profile(
        canvas,
        (MARGIN, PROFILE_TOP, width - MARGIN, PROFILE_TOP + PROFILE_H),
        model.user_id,
        model.display_name,
        model.avatar_png,
        # The tiles have room for the change alone; the profile says what it is against.
        [about, f"Changes vs {model.compared_with}"] if model.changes else [about],
    )
    tiles_top = PROFILE_TOP + PROFILE_H + GAP
    tiles = (
        ("Messages", th.fmt_int(model.messages), theme.messages, None),
        ("Voice minutes", th.fmt_int(model.voice.total), theme.voice, th.fmt_minutes(model.voice.total)),
        (
            "Rank",
            f"#{model.rank}" if model.rank else "–",
            theme.accent,
            f"of {model.ranked_members} by messages" if model.rank else "not ranked",
        ),
    )
    cols = columns(MARGIN, width - MARGIN, len(tiles))
    for (x0, x1), (label, value, colour, sub) in zip(cols, tiles, strict=True):
        line = change_line(model.changes, label, model.compared_with, theme, x1 - x0 - 36)
        canvas.stat_tile(
            (x0, tiles_top, x1, tiles_top + TILE_H),
            label,
            value,
            colour=colour,
            sub=sub if line is None else line[0],
            sub_colour=None if line is None else line[1],
            sub_space=True,
        )

    heat_top = tiles_top + TILE_H + GAP
    inner = canvas.panel(
        (MARGIN, heat_top, width - MARGIN, heat_top + HEAT_H), "Activity by hour of week", model.period.timezone
    )
    canvas.heatmap(inner, model.heatmap, unit="messages")
    voice_top = heat_top + HEAT_H + GAP
    _voice_panel(canvas, (MARGIN, voice_top, width - MARGIN, voice_top + VOICE_H), model.voice)

    (l0, r0), (l1, r1) = columns(MARGIN, width - MARGIN, 2)
    top, bottom = voice_top + VOICE_H + GAP, height - MARGIN
    inner = canvas.panel((l0, top, r0, bottom), "Top channels", "messages")
    canvas.hbars(
        inner, ranked_bars(model.top_channels[:LIST_ROWS], theme.messages, "messages", prefix="#"), row_h=ROW_H
    )
    inner = canvas.panel((l1, top, r1, bottom), "Top emojis", "uses")
    bars = [
        emoji_bar(use, ((use.message, theme.messages), (use.reaction, theme.reaction)))
        for use in model.top_emojis[:LIST_ROWS]
    ]
    canvas.hbars(inner, bars, row_h=ROW_H)  # labels as wide as they need: emojis drawn as glyphs need none
    return canvas.png()


def _risk_colour(risk: str, theme: Theme) -> RGB:
    """Green, amber or red for a drop-off risk."""
    return {"low": theme.good, "medium": theme.warn, "high": theme.bad}.get(risk, theme.alone)


def _gauge(canvas: Canvas, box: Box, score: int) -> None:
    """The engagement score: a big number over a 0–100 bar coloured by band."""
    t = canvas.theme
    inner = canvas.panel(box, "Engagement")
    left, top, right, bottom = inner
    score = max(0, min(100, score))
    colour = t.bad if score < 34 else (t.warn if score < 67 else t.good)
    w = canvas.text((left, top + 2), str(score), th.FIGURE_PX + 4, weight="bold")
    canvas.text((left + w + 8, top + 46), "/ 100", th.BODY_PX, colour=t.text_muted, anchor="ls")
    # What the score means, on its own line under it (beside it, it would not fit a half-width panel).
    canvas.text((left, top + 60), "standing in the guild", th.SMALL_PX, colour=t.text_dim, max_width=right - left)
    bar_top = bottom - 46
    canvas.draw.rounded_rectangle((left, bar_top, right, bar_top + 16), radius=8, fill=t.surface_alt)
    canvas.draw.rounded_rectangle(
        (left, bar_top, left + max(16, int((right - left) * score / 100)), bar_top + 16), radius=8, fill=colour
    )
    for mark in (0, 50, 100):
        x = left + (right - left) * mark / 100
        anchor = "la" if mark == 0 else ("ra" if mark == 100 else "ma")
        canvas.text((x, bar_top + 22), str(mark), th.SMALL_PX, colour=t.text_dim, anchor=anchor)


def _trend(canvas: Canvas, box: Box, model: MentorReport) -> None:
    """The trend: last 7 days against the member's earlier weeks, as a big change over the daily sparkline."""
    theme = canvas.theme
    inner = canvas.panel(box, "Trend", f"{model.period_days} days")
    left, itop, right, ibottom = inner
    colour = theme.text_muted
    if model.trend_pct is not None and abs(model.trend_pct) >= 0.5:
        colour = theme.good if model.trend_pct > 0 else theme.bad
    if model.trend_pct is None:
        canvas.text(
            (left, itop),
            trend_text(None, model.trend_word),
            th.SMALL_PX,
            weight="bold",
            colour=colour,
            max_width=right - left,
        )
    else:
        # The ratio drawn big; the trend word and what is compared in small type beside and under it.
        pct = model.trend_pct
        big = "Same" if abs(pct) < 0.5 else f"{'▲' if pct > 0 else '▼'} {abs(pct):.0f}%"
        w = canvas.text((left, itop - 4), big, 34, weight="bold", colour=colour)
        if model.trend_word:
            canvas.text(
                (left + w + 12, itop + 26),
                model.trend_word,
                th.SMALL_PX,
                colour=theme.text_muted,
                anchor="ls",
                max_width=right - left - w - 12,
            )
    canvas.text(
        (left, itop + 36), "last 7 days vs earlier weeks", th.SMALL_PX, colour=theme.text_dim, max_width=right - left
    )
    spark = (left, itop + 72, right, ibottom - 30)
    days = len(model.daily_activity)
    if days > 7:
        # Shade the last 7 days: the span the trend compares with the weeks before.
        shade_left = left + (right - left) * (days - 7.5) / (days - 1)
        canvas.draw.rectangle(
            (int(shade_left), spark[1] - 6, right, spark[3]), fill=th.mix(theme.surface, theme.text, 0.06)
        )
    sparkline(canvas, spark, model.daily_activity, theme.accent)
    canvas.text(
        (left, ibottom + 2),
        f"{to_zone(model.period.start, model.period.timezone):%d %b}",
        th.SMALL_PX,
        colour=theme.text_dim,
        anchor="ld",
    )
    canvas.text((right, ibottom + 2), "today", th.SMALL_PX, colour=theme.text_dim, anchor="rd")


def render_mentor(model: MentorReport, *, theme: Theme = DARK) -> bytes:
    """The mentor card: the member and their risk, four key figures, engagement, trend and heatmap."""
    canvas = Canvas(MENTOR_SIZE, theme)
    width, height = MENTOR_SIZE
    canvas.header(model.guild_name, model.period.describe(), "Mentor card")
    top = PROFILE_TOP
    right = width - MARGIN
    # Profile with the risk badge and its reason.
    box = (MARGIN, top, right, top + MENTOR_PROFILE_H)
    canvas.draw.rounded_rectangle(box, radius=12, fill=theme.surface)
    canvas.avatar((MARGIN + 16, top + 18), AVATAR_D, model.user_id, model.display_name, model.avatar_png)
    text_left = MARGIN + 16 + AVATAR_D + 18
    risk_colour = _risk_colour(model.risk, theme)
    badge = RISK_WORDS.get(model.risk, model.risk).upper()
    badge_w = th.text_width(badge, th.font(th.SMALL_PX, "bold")) + 28
    canvas.draw.rounded_rectangle((right - 16 - badge_w, top + 16, right - 16, top + 52), radius=18, fill=risk_colour)
    canvas.text(
        (right - 16 - badge_w // 2, top + 34), badge, th.SMALL_PX, weight="bold", colour=(20, 20, 22), anchor="mm"
    )
    name_w = right - 16 - badge_w - 16 - text_left
    canvas.text(
        (text_left, top + 14),
        th.safe_text(model.display_name, f"#{model.user_id}"),
        NAME_PX,
        weight="bold",
        max_width=name_w,
    )
    canvas.text(
        (text_left, top + 58),
        last_seen_text(model.last_seen, model.period.timezone),
        th.SMALL_PX,
        colour=theme.text_muted,
        max_width=right - 16 - text_left,
    )
    canvas.paragraph(
        (text_left, top + 92), model.risk_reason, right - 16 - text_left, th.SMALL_PX, colour=theme.text, lines=2
    )

    # Key figures, two by two.
    tiles_top = top + MENTOR_PROFILE_H + GAP
    tiles = (
        ("Messages", th.fmt_int(model.messages), theme.messages, None),
        # Active voice only (README: the drop-off analysis measures engagement); hours only when it adds something.
        (
            "Voice minutes",
            th.fmt_int(model.voice_minutes),
            theme.voice,
            f"active · {th.fmt_minutes(model.voice_minutes)}" if model.voice_minutes >= 60 else "active voice",
        ),
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
    row_top = tile_rows(canvas, tiles_top, tiles, per_row=2) + GAP
    (l0, r0), (l1, r1) = columns(MARGIN, right, 2)
    _gauge(canvas, (l0, row_top, r0, row_top + MENTOR_ROW_H), model.engagement)
    _trend(canvas, (l1, row_top, r1, row_top + MENTOR_ROW_H), model)

    heat_top = row_top + MENTOR_ROW_H + GAP
    inner = canvas.panel(
        (MARGIN, heat_top, right, height - MARGIN),
        "Activity by hour of week",
        f"spread over the week {model.weekday_spread:.0%}",
    )
    canvas.heatmap(inner, model.heatmap, unit="messages")
    return canvas.png()
