"""Chart reports: server activity, channel card, leaderboard, emojis and invites."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render import theme as th
from bot.render.canvas import Bar, Box, Canvas
from bot.render.models import (
    ActivitySeries,
    ChannelReport,
    EmojiReport,
    InviteReport,
    LeaderboardReport,
    RankedItem,
    ServerReport,
)
from bot.render.plot import Curve, timeseries
from bot.render.theme import CARD_SIZE, CHART_SIZE, DARK, MARGIN, RGB, Theme

GAP = 16
TILE_TOP = th.HEADER_H + 10
TILE_H = 128
LEADERBOARD_MAX = 25  # /top's largest limit
MEDALS: tuple[RGB, ...] = ((240, 178, 50), (192, 199, 208), (205, 127, 50))


def columns(left: int, right: int, count: int, gap: int = GAP) -> list[tuple[int, int]]:
    """``count`` equal columns between ``left`` and ``right`` separated by ``gap``."""
    width = (right - left - gap * (count - 1)) / count
    return [(int(left + i * (width + gap)), int(left + i * (width + gap) + width)) for i in range(count)]


def bucket_word(series: ActivitySeries) -> str:
    """``hour`` or ``day``: the bucket the series is counted in."""
    return "hour" if series.step_hours < 24 else "day"


def ranked_bars(
    items: Sequence[RankedItem], colour: RGB, unit: str, *, avatars: bool = False, prefix: str = ""
) -> list[Bar]:
    """Bars for a ranking: ``minutes`` printed as ``1,935 min``, anything else as a plain count."""
    bars = []
    for item in items:
        value = f"{th.fmt_int(item.value)} min" if unit == "minutes" else th.fmt_int(item.value)
        bars.append(
            Bar(
                label=prefix + th.safe_text(item.name, f"{item.id}"),
                segments=((item.value, colour),),
                value_text=value,
                avatar=(item.id, item.avatar_png) if avatars else None,
            )
        )
    return bars


def _activity_panels(canvas: Canvas, box: Box, series: ActivitySeries, *, hide_empty: bool = False) -> None:
    """Two stacked time charts, messages and voice minutes per bucket (one, if the other is empty and may hide)."""
    t = canvas.theme
    left, top, right, bottom = box
    middle = (top + bottom) // 2
    word = bucket_word(series)
    charts = [
        ((top, middle - GAP // 2), f"Messages per {word}", series.messages, t.messages, "messages"),
        ((middle + GAP // 2, bottom), f"Voice minutes per {word}", series.voice_minutes, t.voice, "minutes"),
    ]
    if hide_empty:
        recorded = [chart for chart in charts if len(chart[2]) and float(chart[2].max()) > 0]
        if len(recorded) == 1:
            charts = [((top, bottom), *recorded[0][1:])]
    for (y0, y1), title, values, colour, total_unit in charts:
        peak = float(values.max()) if len(values) else 0.0
        note = f"peak {th.fmt_int(peak)} {total_unit}" if peak else None
        inner = canvas.panel((left, y0, right, y1), title, note)
        timeseries(canvas, inner, series.bucket_starts(), series.step_hours, [Curve(values, colour)])


def _tiles(canvas: Canvas, top: int, figures: Sequence[tuple[str, str, RGB, str | None]]) -> None:
    """A row of key figures under the header."""
    width = canvas.size[0]
    sub_space = any(figure[3] for figure in figures)
    for (x0, x1), (label, value, colour, sub) in zip(
        columns(MARGIN, width - MARGIN, len(figures)), figures, strict=True
    ):
        canvas.stat_tile((x0, top, x1, top + TILE_H), label, value, colour=colour, sub=sub, sub_space=sub_space)


def render_server(model: ServerReport, *, theme: Theme = DARK) -> bytes:
    """The /stats server image: totals, activity over time, top channels and members."""
    canvas = Canvas(CARD_SIZE, theme)
    width, height = CARD_SIZE
    kind = "Server activity" if model.channel_name is None else f"Server · #{th.safe_text(model.channel_name)}"
    canvas.header(model.guild_name, model.period.describe(), kind)
    _tiles(
        canvas,
        TILE_TOP,
        (
            ("Messages", th.fmt_int(model.messages), theme.messages, None),
            (
                "Voice minutes",
                th.fmt_int(model.voice_minutes),
                theme.voice,
                th.fmt_minutes(model.voice_minutes) if model.voice_minutes >= 60 else None,
            ),
            ("Active members", th.fmt_int(model.active_members), theme.accent, "sent a message or joined voice"),
        ),
    )
    body_top = TILE_TOP + TILE_H + GAP
    bottom = height - MARGIN
    (l0, r0), (l1, r1) = (MARGIN, 700), (700 + GAP, width - MARGIN)
    _activity_panels(canvas, (l0, body_top, r0, bottom), model.series)
    middle = (body_top + bottom) // 2
    inner = canvas.panel((l1, body_top, r1, middle - GAP // 2), "Top channels", "messages")
    canvas.hbars(inner, ranked_bars(model.top_channels[:5], theme.messages, "messages", prefix="#"))
    inner = canvas.panel((l1, middle + GAP // 2, r1, bottom), "Top members", "messages")
    canvas.hbars(inner, ranked_bars(model.top_members[:5], theme.accent, "messages", avatars=True))
    return canvas.png()


def render_channel(model: ChannelReport, *, theme: Theme = DARK) -> bytes:
    """The /stats channel image: the channel's totals, activity over time and top members."""
    canvas = Canvas(CARD_SIZE, theme)
    width, height = CARD_SIZE
    canvas.header(
        f"#{th.safe_text(model.channel_name, 'channel')}", f"{model.guild_name} · {model.period.describe()}", "Channel"
    )
    _tiles(
        canvas,
        TILE_TOP,
        (
            ("Messages", th.fmt_int(model.messages), theme.messages, None),
            ("Voice minutes", th.fmt_int(model.voice_minutes), theme.voice, None),
            ("Active members", th.fmt_int(model.active_members), theme.accent, None),
        ),
    )
    body_top = TILE_TOP + TILE_H + GAP
    bottom = height - MARGIN
    _activity_panels(canvas, (MARGIN, body_top, 736, bottom), model.series, hide_empty=True)
    voice_first = model.voice_minutes > 0 and model.messages == 0
    unit = "minutes" if voice_first else "messages"
    inner = canvas.panel((736 + GAP, body_top, width - MARGIN, bottom), "Top members", unit)
    members = model.top_members[:10]
    canvas.hbars(inner, ranked_bars(members, theme.voice if voice_first else theme.accent, unit, avatars=True))
    return canvas.png()


def metric_colour(metric: str, theme: Theme) -> RGB:
    """The colour a metric has in every image: messages blurple, voice green, emojis pink, invites teal."""
    return {
        "messages": theme.messages,
        "voice": theme.voice,
        "emojis": theme.reaction,
        "invites": theme.video,
    }.get(metric.lower(), theme.accent)


def _rank_column(
    canvas: Canvas, box: Box, entries: Sequence[RankedItem], first_rank: int, unit: str, colour: RGB
) -> None:
    """One column of the leaderboard: rank, avatar, name, bar and value per row."""
    t = canvas.theme
    left, top, right, bottom = box
    row_h = min(48, (bottom - top) // max(len(entries), 1))
    rank_w = 44
    for i in range(len(entries)):
        rank = first_rank + i
        cy = top + i * row_h + row_h // 2
        if rank <= 3:
            canvas.draw.ellipse((left, cy - 14, left + 28, cy + 14), fill=MEDALS[rank - 1])
            canvas.text((left + 14, cy), str(rank), th.SMALL_PX, weight="bold", colour=(30, 31, 34), anchor="mm")
        else:
            canvas.text((left + 14, cy), str(rank), th.SMALL_PX, weight="bold", colour=t.text_muted, anchor="mm")
    bars = ranked_bars(entries, colour, unit, avatars=True)
    canvas.hbars((left + rank_w, top, right, bottom), bars, row_h=row_h)


def render_leaderboard(model: LeaderboardReport, *, theme: Theme = DARK) -> bytes:
    """The /top image: members ranked by one metric, in one or two columns."""
    canvas = Canvas(CHART_SIZE, theme)
    width, height = CHART_SIZE
    canvas.header(model.guild_name, model.period.describe(), f"Top · {model.metric}")
    box = (MARGIN, th.HEADER_H + 10, width - MARGIN, height - MARGIN)
    entries = model.entries[:LEADERBOARD_MAX]
    inner = canvas.panel(box, f"{model.metric} leaderboard", f"in {model.unit}")
    colour = metric_colour(model.metric, theme)
    if not entries:
        canvas.empty_note(inner)
        return canvas.png()
    if len(entries) <= 10:
        rows = max(len(entries), 5)
        row_h = min(48, (inner[3] - inner[1]) // rows)
        _rank_column(
            canvas, (inner[0], inner[1], inner[2], inner[1] + row_h * len(entries)), entries, 1, model.unit, colour
        )
    else:
        split = (len(entries) + 1) // 2
        (a0, a1), (b0, b1) = columns(inner[0], inner[2], 2, 40)
        row_h = min(48, (inner[3] - inner[1]) // split)
        _rank_column(canvas, (a0, inner[1], a1, inner[1] + row_h * split), entries[:split], 1, model.unit, colour)
        rest = entries[split:]
        _rank_column(canvas, (b0, inner[1], b1, inner[1] + row_h * len(rest)), rest, split + 1, model.unit, colour)
    return canvas.png()


def render_emojis(model: EmojiReport, *, theme: Theme = DARK) -> bytes:
    """The /emojis image: the most used emojis, uses in messages and as reactions stacked."""
    canvas = Canvas(CHART_SIZE, theme)
    width, height = CHART_SIZE
    who = f" · {th.safe_text(model.member_name)}" if model.member_name else ""
    canvas.header(model.guild_name, model.period.describe() + who, "Emojis")
    top, bottom = th.HEADER_H + 10, height - MARGIN
    side_left = width - MARGIN - 300
    inner = canvas.panel((MARGIN, top, side_left - GAP, bottom), "Most used emojis", "uses")
    legend_y = inner[1] + 4
    canvas.legend((inner[0], legend_y), (("in messages", theme.messages), ("as reactions", theme.reaction)))
    bars = [
        Bar(
            label=th.emoji_name(use.emoji),
            segments=((use.message, theme.messages), (use.reaction, theme.reaction)),
            value_text=th.fmt_int(use.total),
            icon=th.emoji_glyph(use.emoji),
        )
        for use in model.emojis[:10]
    ]
    canvas.hbars((inner[0], inner[1] + 26, inner[2], inner[3]), bars)
    in_messages = sum(use.message for use in model.emojis)
    reactions = sum(use.reaction for use in model.emojis)
    tile_h = (bottom - top - 2 * GAP) // 3
    for i, (label, value, colour) in enumerate(
        (
            ("Emojis in messages", in_messages, theme.messages),
            ("Reactions added", reactions, theme.reaction),
            ("Different emojis", len(model.emojis), theme.accent),
        )
    ):
        y0 = top + i * (tile_h + GAP)
        canvas.stat_tile((side_left, y0, width - MARGIN, y0 + tile_h), label, th.fmt_int(value), colour=colour)
    return canvas.png()


def render_invites(model: InviteReport, *, theme: Theme = DARK) -> bytes:
    """The /invites image: joins by inviter, how many of them stayed, and the totals."""
    canvas = Canvas(CHART_SIZE, theme)
    width, height = CHART_SIZE
    who = f" · {th.safe_text(model.member_name)}" if model.member_name else ""
    canvas.header(model.guild_name, model.period.describe() + who, "Invites")
    invites = sum(row.invites for row in model.inviters)
    attributed = sum(row.joins for row in model.inviters)
    joins = attributed + model.vanity_joins + model.unknown_joins
    stayed = sum(row.stayed for row in model.inviters)
    retention = f"{stayed / attributed:.0%} of invited joins" if attributed else "no invited joins"
    _tiles(
        canvas,
        TILE_TOP,
        (
            ("Invites created", th.fmt_int(invites), theme.accent, None),
            (
                "Joins",
                th.fmt_int(joins),
                theme.messages,
                f"vanity {model.vanity_joins} · unknown {model.unknown_joins}",
            ),
            ("Stayed", th.fmt_int(stayed), theme.good, retention),
        ),
    )
    box = (MARGIN, TILE_TOP + TILE_H + GAP, width - MARGIN, height - MARGIN)
    inner = canvas.panel(box, "Joins by inviter", "joins · stayed")
    canvas.legend((inner[0], inner[1] + 4), (("still a member", theme.good), ("left", theme.alone)))
    rows = sorted(model.inviters, key=lambda r: (-r.joins, -r.stayed, r.name))[:7]
    bars = [
        Bar(
            label=th.safe_text(row.name, f"#{row.id}"),
            segments=((row.stayed, theme.good), (max(row.joins - row.stayed, 0), theme.alone)),
            value_text=f"{row.joins:,} joins · {row.stayed:,} stayed",
            avatar=(row.id, None),
        )
        for row in rows
    ]
    canvas.hbars((inner[0], inner[1] + 26, inner[2], inner[3]), bars)
    return canvas.png()
