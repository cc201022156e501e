"""Chart reports: server activity, channel card, leaderboard, emojis and invites."""

from __future__ import annotations

from collections.abc import Sequence

from bot.render import theme as th
from bot.render.alt import delta_text
from bot.render.canvas import Bar, Box, Canvas
from bot.render.models import (
    ActivitySeries,
    Change,
    ChannelReport,
    EmojiReport,
    EmojiUse,
    InviteReport,
    LeaderboardReport,
    RankedItem,
    ServerReport,
)
from bot.render.plot import Curve, timeseries
from bot.render.theme import DARK, MARGIN, RGB, Theme

GAP = 12
TILE_TOP = th.HEADER_H + 6
TILE_H = 124
ROW_H = 44  # one member, channel or emoji in a list
LIST_PANEL_PAD = 54 + 14  # a panel's title above its rows and its padding below
LEADERBOARD_MAX = 25  # /top's largest limit
LEADERBOARD_ROW = 44
LONG_LEADERBOARD_ROW = 40  # more than 10 rows: one column still, a little tighter
ONE_COLUMN_MAX = 10
CHART_H = 200  # one time chart panel (title, plot, date labels)
LIST_ROWS = 4  # rows in the top channels / top members panels of the server and channel cards
SERVER_SIZE = (
    th.CANVAS_W,
    TILE_TOP + 2 * TILE_H + GAP + GAP + 2 * CHART_H + GAP + GAP + LIST_PANEL_PAD + LIST_ROWS * ROW_H + MARGIN,
)
EMOJI_ROWS = 8
EMOJI_LEGEND_H = 34
EMOJIS_SIZE = (th.CANVAS_W, TILE_TOP + TILE_H + GAP + LIST_PANEL_PAD + EMOJI_LEGEND_H + EMOJI_ROWS * ROW_H + MARGIN)
INVITE_ROWS = 6
INVITES_SIZE = (
    th.CANVAS_W,
    TILE_TOP + 2 * TILE_H + GAP + GAP + LIST_PANEL_PAD + EMOJI_LEGEND_H + INVITE_ROWS * ROW_H + MARGIN,
)
MEDALS: tuple[RGB, ...] = ((240, 178, 50), (192, 199, 208), (205, 127, 50))


def columns(left: int, right: int, count: int, gap: int = GAP) -> list[tuple[int, int]]:
    """``count`` equal columns between ``left`` and ``right`` separated by ``gap``."""
    width = (right - left - gap * (count - 1)) / count
    return [(int(left + i * (width + gap)), int(left + i * (width + gap) + width)) for i in range(count)]


def bucket_word(series: ActivitySeries) -> str:
    """``hour`` or ``day``: the bucket the series is counted in."""
    return "hour" if series.step_hours < 24 else "day"


def emoji_bar(use: EmojiUse, segments: tuple[tuple[float, RGB], ...]) -> Bar:
    """A bar for an emoji: the emoji in colour (a custom one from its image), named only when it cannot be drawn."""
    drawn = th.emoji_drawn(use.emoji) or use.image_png is not None
    custom = use.emoji.startswith("<")
    label = th.emoji_name(use.emoji) if custom or not drawn else ""
    return Bar(
        label=label,
        segments=segments,
        value_text=th.fmt_int(use.total),
        icon=th.emoji_glyph(use.emoji),
        emoji=use.emoji,
        emoji_png=use.image_png,
    )


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
        # Totals per bucket are bars: a line would show voice between two days that had none.
        timeseries(canvas, inner, series.bucket_starts(), series.step_hours, [Curve(values, colour)], bars=True)


Tile = tuple[str, str, RGB, str | None] | tuple[str, str, RGB, str | None, RGB | None]


def change_line(
    changes: Sequence[Change], name: str, compared_with: str, theme: Theme, width: int | None = None
) -> tuple[str, RGB] | None:
    """The tile sub-line for a figure's change (green up, red down, muted otherwise), if the model has one.

    The wording shortens to fit ``width`` pixels: ``+12 % vs previous 7 days``, then
    ``+12 % vs prev. 7 days``, then ``+12 %`` alone.
    """
    change = next((c for c in changes if c.name == name), None)
    if change is None:
        return None
    pct = change.pct
    colour = theme.text_dim if pct is None or round(pct) == 0 else (theme.good if pct > 0 else theme.bad)
    full = delta_text(change, compared_with)
    if width is None:
        return full, colour
    fnt = th.font(th.SMALL_PX, "bold")
    shorter = full.replace("previous", "prev.")
    bare = full.split(" vs ")[0] if pct is not None else "new" if change.value else "none before"
    for text in (full, shorter, bare):
        if th.text_width(text, fnt) <= width:
            return text, colour
    return bare, colour


def with_change(tile: Tile, changes: Sequence[Change], compared_with: str, theme: Theme, width: int) -> Tile:
    """The tile with its change as the sub-line (fitted to ``width``), when the model has a change for it."""
    line = change_line(changes, tile[0], compared_with, theme, width)
    return tile if line is None else (tile[0], tile[1], tile[2], line[0], line[1])


def tile_text_width(canvas: Canvas, count: int) -> int:
    """The text width inside each of ``count`` tiles in a row (``stat_tile`` keeps 36 px of padding)."""
    (x0, x1), *_ = columns(MARGIN, canvas.size[0] - MARGIN, count)
    return x1 - x0 - 36


def tile_rows(canvas: Canvas, top: int, figures: Sequence[Tile], per_row: int | None = None) -> int:
    """Key figures under the header, ``per_row`` to a row (a short last row widens); returns the bottom.

    A fifth item of a figure colours its sub-line.
    """
    width = canvas.size[0]
    per_row = per_row or len(figures)
    sub_space = any(figure[3] for figure in figures)
    y = top
    for start in range(0, len(figures), per_row):
        row = figures[start : start + per_row]
        for (x0, x1), figure in zip(columns(MARGIN, width - MARGIN, len(row)), row, strict=True):
            label, value, colour, sub = figure[:4]
            sub_colour = figure[4] if len(figure) > 4 else None
            canvas.stat_tile(
                (x0, y, x1, y + TILE_H),
                label,
                value,
                colour=colour,
                sub=sub,
                sub_colour=sub_colour,
                sub_space=sub_space,
            )
        y += TILE_H + GAP
    return y - GAP


def render_server(model: ServerReport, *, theme: Theme = DARK) -> bytes:
    """The /stats server image: key figures two by two, messages and voice per bucket, top channels and members."""
    canvas = Canvas(SERVER_SIZE, theme)
    width, height = SERVER_SIZE
    kind = "Server" if model.channel_name is None else f"Server · #{th.safe_text(model.channel_name)}"
    canvas.header(model.guild_name, model.period.describe(), kind)
    tiles: list[Tile] = [
        ("Messages", th.fmt_int(model.messages), theme.messages, None),
        (
            "Voice minutes",
            th.fmt_int(model.voice_minutes),
            theme.voice,
            th.fmt_minutes(model.voice_minutes) if model.voice_minutes >= 60 else None,
        ),
        ("Active members", th.fmt_int(model.active_members), theme.accent, "sent a message or joined voice"),
    ]
    room = tile_text_width(canvas, 2)
    tiles = [with_change(tile, model.changes, model.compared_with, theme, room) for tile in tiles]
    if model.growth is not None:
        g = model.growth
        colour = theme.text_dim if g.net == 0 else (theme.good if g.net > 0 else theme.bad)
        tiles.append(("Member growth", g.net_text, theme.video, f"{g.joins} joined · {g.leaves} left", colour))
    body_top = tile_rows(canvas, TILE_TOP, tiles, per_row=2) + GAP
    charts_bottom = body_top + 2 * CHART_H + GAP
    _activity_panels(canvas, (MARGIN, body_top, width - MARGIN, charts_bottom), model.series)
    (l0, r0), (l1, r1) = columns(MARGIN, width - MARGIN, 2)
    top, bottom = charts_bottom + GAP, height - MARGIN
    inner = canvas.panel((l0, top, r0, bottom), "Top channels", "messages")
    canvas.hbars(
        inner, ranked_bars(model.top_channels[:LIST_ROWS], theme.messages, "messages", prefix="#"), row_h=ROW_H
    )
    inner = canvas.panel((l1, top, r1, bottom), "Top members", "messages")
    canvas.hbars(inner, ranked_bars(model.top_members[:LIST_ROWS], theme.accent, "messages", avatars=True), row_h=ROW_H)
    return canvas.png()


def render_channel(model: ChannelReport, *, theme: Theme = DARK) -> bytes:
    """The /stats channel image: the channel's key figures, activity over time and top members."""
    canvas = Canvas(SERVER_SIZE, theme)
    width, height = SERVER_SIZE
    canvas.header(
        f"#{th.safe_text(model.channel_name, 'channel')}", f"{model.guild_name} · {model.period.describe()}", "Channel"
    )
    channel_tiles: list[Tile] = [
        ("Messages", th.fmt_int(model.messages), theme.messages, None),
        ("Voice minutes", th.fmt_int(model.voice_minutes), theme.voice, None),
        ("Active members", th.fmt_int(model.active_members), theme.accent, None),
    ]
    room = tile_text_width(canvas, 2)
    tiles = [with_change(t, model.changes, model.compared_with, theme, room) for t in channel_tiles]
    body_top = tile_rows(canvas, TILE_TOP, tiles, per_row=2) + GAP
    charts_bottom = body_top + 2 * CHART_H + GAP
    _activity_panels(canvas, (MARGIN, body_top, width - MARGIN, charts_bottom), model.series, hide_empty=True)
    voice_first = model.voice_minutes > 0 and model.messages == 0
    unit = "minutes" if voice_first else "messages"
    inner = canvas.panel((MARGIN, charts_bottom + GAP, width - MARGIN, height - MARGIN), "Top members", unit)
    members = model.top_members[:LIST_ROWS]
    colour = theme.voice if voice_first else theme.accent
    canvas.hbars(inner, ranked_bars(members, colour, unit, avatars=True), row_h=ROW_H)
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
    canvas: Canvas,
    box: Box,
    entries: Sequence[RankedItem],
    first_rank: int,
    unit: str,
    colour: RGB,
    scale_max: float | None = None,
) -> None:
    """The leaderboard's rows: rank (a medal for the first three), avatar, name, bar and value."""
    t = canvas.theme
    left, top, right, bottom = box
    row_h = min(LEADERBOARD_ROW, (bottom - top) // max(len(entries), 1))
    rank_w = 48
    for i in range(len(entries)):
        rank = first_rank + i
        cy = top + i * row_h + row_h // 2
        if rank <= 3:
            canvas.draw.ellipse((left, cy - 17, left + 34, cy + 17), fill=MEDALS[rank - 1])
            canvas.text((left + 17, cy), str(rank), th.SMALL_PX, weight="bold", colour=(30, 31, 34), anchor="mm")
        else:
            canvas.text((left + 17, cy), str(rank), th.SMALL_PX, weight="bold", colour=t.text_muted, anchor="mm")
    bars = ranked_bars(entries, colour, unit, avatars=True)
    canvas.hbars((left + rank_w, top, right, bottom), bars, row_h=row_h, scale_max=scale_max)


def leaderboard_rows(count: int) -> int:
    """How many rows the leaderboard draws for ``count`` entries: one per entry, in one column."""
    return max(min(count, LEADERBOARD_MAX), 1)


def leaderboard_row_h(count: int) -> int:
    """Pixels per leaderboard row: roomy up to 10 entries, a little tighter beyond."""
    return LEADERBOARD_ROW if count <= ONE_COLUMN_MAX else LONG_LEADERBOARD_ROW


def leaderboard_size(count: int) -> tuple[int, int]:
    """The leaderboard image's size: as tall as its rows, so that 3 rows do not sit in a frame made for 25."""
    body = LIST_PANEL_PAD + leaderboard_rows(count) * leaderboard_row_h(count)
    return th.CANVAS_W, TILE_TOP + body + MARGIN


def render_leaderboard(model: LeaderboardReport, *, theme: Theme = DARK) -> bytes:
    """The /top image: members ranked by one metric, one row each, sized to its rows."""
    size = leaderboard_size(len(model.entries))
    canvas = Canvas(size, theme)
    width, height = size
    canvas.header(model.guild_name, model.period.describe(), f"Top · {model.metric}")
    box = (MARGIN, TILE_TOP, width - MARGIN, height - MARGIN)
    entries = model.entries[:LEADERBOARD_MAX]
    inner = canvas.panel(box, f"{model.metric} leaderboard", f"in {model.unit}")
    colour = metric_colour(model.metric, theme)
    if not entries:
        canvas.empty_note(inner)
        return canvas.png()
    row_h = leaderboard_row_h(len(entries))
    _rank_column(
        canvas, (inner[0], inner[1], inner[2], inner[1] + row_h * len(entries)), entries, 1, model.unit, colour
    )
    return canvas.png()


def render_emojis(model: EmojiReport, *, theme: Theme = DARK) -> bytes:
    """The /emojis image: three key figures, then the most used emojis with messages and reactions stacked."""
    canvas = Canvas(EMOJIS_SIZE, theme)
    width, height = EMOJIS_SIZE
    who = f" · {th.safe_text(model.member_name)}" if model.member_name else ""
    canvas.header(model.guild_name, model.period.describe() + who, "Emojis")
    in_messages = sum(use.message for use in model.emojis)
    reactions = sum(use.reaction for use in model.emojis)
    top = tile_rows(
        canvas,
        TILE_TOP,
        (
            ("In messages", th.fmt_int(in_messages), theme.messages, None),
            ("As reactions", th.fmt_int(reactions), theme.reaction, None),
            ("Different", th.fmt_int(len(model.emojis)), theme.accent, None),
        ),
    )
    inner = canvas.panel((MARGIN, top + GAP, width - MARGIN, height - MARGIN), "Most used emojis", "uses")
    legend_y = inner[1] + 8
    canvas.legend((inner[0], legend_y), (("in messages", theme.messages), ("as reactions", theme.reaction)))
    bars = [
        emoji_bar(use, ((use.message, theme.messages), (use.reaction, theme.reaction)))
        for use in model.emojis[:EMOJI_ROWS]
    ]
    canvas.hbars((inner[0], inner[1] + EMOJI_LEGEND_H, inner[2], inner[3]), bars, row_h=ROW_H)
    return canvas.png()


def render_invites(model: InviteReport, *, theme: Theme = DARK) -> bytes:
    """The /invites image: the totals, then joins by inviter and how many of them stayed."""
    canvas = Canvas(INVITES_SIZE, theme)
    width, height = INVITES_SIZE
    who = f" · {th.safe_text(model.member_name)}" if model.member_name else ""
    canvas.header(model.guild_name, model.period.describe() + who, "Invites")
    invites = sum(row.invites for row in model.inviters)
    attributed = sum(row.joins for row in model.inviters)
    joins = attributed + model.vanity_joins + model.unknown_joins
    stayed = sum(row.stayed for row in model.inviters)
    retention = f"{stayed / attributed:.0%} of invited joins" if attributed else "no invited joins"
    top = tile_rows(
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
        per_row=2,
    )
    box = (MARGIN, top + GAP, width - MARGIN, height - MARGIN)
    inner = canvas.panel(box, "Joins by inviter", "joins · stayed")
    canvas.legend((inner[0], inner[1] + 8), (("still a member", theme.good), ("left", theme.alone)))
    rows = sorted(model.inviters, key=lambda r: (-r.joins, -r.stayed, r.name))[:INVITE_ROWS]
    bars = [
        Bar(
            label=th.safe_text(row.name, f"#{row.id}"),
            segments=((row.stayed, theme.good), (max(row.joins - row.stayed, 0), theme.alone)),
            value_text=f"{row.joins:,} joins · {row.stayed:,} stayed",
            avatar=(row.id, None),
        )
        for row in rows
    ]
    canvas.hbars((inner[0], inner[1] + EMOJI_LEGEND_H, inner[2], inner[3]), bars, row_h=ROW_H)
    return canvas.png()
