"""The weekly summary: totals against the week before, top members, event attendance, absentees."""

from __future__ import annotations

from bot.render import theme as th
from bot.render.alt import change_text
from bot.render.canvas import Canvas
from bot.render.charts import GAP, TILE_H, columns, ranked_bars, tile_rows
from bot.render.models import WeeklyReport, WeeklyTotal
from bot.render.theme import DARK, MARGIN, RGB, Theme

TILES_TOP = th.HEADER_H + 6
LIST_ROWS = 5
LIST_ROW_H = 40
LIST_H = 54 + LIST_ROWS * LIST_ROW_H + 14
WEEKLY_SIZE = (th.CANVAS_W, TILES_TOP + 2 * TILE_H + GAP + GAP + LIST_H + GAP + LIST_H + MARGIN)


def _change_colour(total: WeeklyTotal, theme: Theme) -> RGB:
    """Green for a rise, red for a fall, grey for no change."""
    pct = total.change_pct
    if pct is None or abs(pct) < 0.05:
        return theme.text_muted
    return theme.good if pct > 0 else theme.bad


def _value_text(total: WeeklyTotal) -> str:
    """A weekly figure, with its unit where the name alone does not say it."""
    return th.fmt_int(total.value)


def render_weekly(model: WeeklyReport, *, theme: Theme = DARK) -> bytes:
    """The weekly summary image posted to the report channel: totals two by two, top members, events, absentees."""
    canvas = Canvas(WEEKLY_SIZE, theme)
    width, height = WEEKLY_SIZE
    canvas.header(model.guild_name, model.period.describe(), "Weekly")
    colours = (theme.messages, theme.voice, theme.accent, theme.warn)
    totals = model.totals[:4]
    tiles = [
        (total.name, _value_text(total), colours[i % len(colours)], change_text(total), _change_colour(total, theme))
        for i, total in enumerate(totals)
    ]
    body_top = (tile_rows(canvas, TILES_TOP, tiles, per_row=2) if tiles else TILES_TOP + 2 * TILE_H + GAP) + GAP
    (a0, a1), (b0, b1) = columns(MARGIN, width - MARGIN, 2)
    row_bottom = body_top + LIST_H
    inner = canvas.panel((a0, body_top, a1, row_bottom), "Top by messages")
    canvas.hbars(inner, ranked_bars(model.top_messages[:LIST_ROWS], theme.messages, "messages"), row_h=LIST_ROW_H)
    inner = canvas.panel((b0, body_top, b1, row_bottom), "Top by voice", "minutes")
    canvas.hbars(inner, ranked_bars(model.top_voice[:LIST_ROWS], theme.voice, "count"), row_h=LIST_ROW_H)

    top, bottom = row_bottom + GAP, height - MARGIN
    note = f"{model.events_held} events" if model.events_held else None
    if len(model.attendance) > LIST_ROWS:
        note = f"top {LIST_ROWS} of {len(model.attendance)}"
    inner = canvas.panel((a0, top, a1, bottom), "Event minutes", note)
    bars = ranked_bars(model.attendance[:LIST_ROWS], theme.warn, "count")
    if not bars:
        canvas.empty_note(inner, "No event attendance" if model.events_held else "No event this week")
    else:
        canvas.hbars(inner, bars, row_h=LIST_ROW_H)

    count = len(model.never_present)
    title = f"Never present ({count})" if count else "Never present"
    inner = canvas.panel((b0, top, b1, bottom), title, "at any event")
    if not model.events_held:
        canvas.paragraph(
            (inner[0], inner[1]), "No event took place this week.", inner[2] - inner[0], colour=theme.text_muted
        )
        return canvas.png()
    if not count:
        canvas.paragraph(
            (inner[0], inner[1]),
            "Everyone attended at least one event this week.",
            inner[2] - inner[0],
            colour=theme.good,
        )
        return canvas.png()
    _chips(canvas, inner, [th.safe_text(n, "member") for n in model.never_present])
    return canvas.png()


def _chips(canvas: Canvas, box: tuple[int, int, int, int], names: list[str]) -> None:
    """Names as rounded chips, wrapped over the lines that fit, with ``+N more`` at the end."""
    t = canvas.theme
    left, top, right, bottom = box
    fnt = th.font(th.SMALL_PX)
    chip_h, pad, gap = 36, 12, 8
    x, y = left, top
    for i, name in enumerate(names):
        label = th.fit_text(name, fnt, right - left - 2 * pad)
        w = th.text_width(label, fnt) + 2 * pad
        rest = len(names) - i
        more = f"+{rest} more"
        if x + w > right:
            x, y = left, y + chip_h + gap
        last_line = y + 2 * chip_h + gap > bottom
        reserve = th.text_width(f"+{rest - 1} more", fnt) + 2 * pad + gap if rest > 1 else 0
        if y + chip_h > bottom or (last_line and x + w + reserve > right):
            canvas.draw.rounded_rectangle(
                (x, y, x + th.text_width(more, fnt) + 2 * pad, y + chip_h), radius=16, fill=t.accent
            )
            canvas.draw.text((x + pad, y + chip_h // 2), more, font=fnt, fill=(255, 255, 255), anchor="lm")
            return
        canvas.draw.rounded_rectangle((x, y, x + w, y + chip_h), radius=16, fill=t.surface_alt)
        canvas.draw.text((x + pad, y + chip_h // 2), label, font=fnt, fill=t.text, anchor="lm")
        x += w + gap
