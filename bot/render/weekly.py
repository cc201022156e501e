"""The weekly summary: totals against the week before, top members, event attendance, absentees."""

from __future__ import annotations

from bot.render import theme as th
from bot.render.alt import change_text
from bot.render.canvas import Canvas
from bot.render.charts import GAP, columns, ranked_bars
from bot.render.models import WeeklyReport, WeeklyTotal
from bot.render.theme import CARD_SIZE, DARK, MARGIN, RGB, Theme

TILES_TOP = th.HEADER_H + 10
TILE_H = 120
ABSENT_H = 150


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
    """The weekly summary image posted to the report channel."""
    canvas = Canvas(CARD_SIZE, theme)
    width, height = CARD_SIZE
    canvas.header(model.guild_name, model.period.describe(), "Weekly summary")
    colours = (theme.messages, theme.voice, theme.accent, theme.warn)
    totals = model.totals[:4]
    if totals:
        for i, ((x0, x1), total) in enumerate(zip(columns(MARGIN, width - MARGIN, len(totals)), totals, strict=True)):
            canvas.stat_tile(
                (x0, TILES_TOP, x1, TILES_TOP + TILE_H),
                total.name,
                _value_text(total),
                colour=colours[i % len(colours)],
                sub=change_text(total),
                sub_colour=_change_colour(total, theme),
            )
    body_top = TILES_TOP + TILE_H + GAP
    absent_top = height - MARGIN - ABSENT_H
    body_bottom = absent_top - GAP
    (a0, a1), (b0, b1), (c0, c1) = columns(MARGIN, width - MARGIN, 3)
    inner = canvas.panel((a0, body_top, a1, body_bottom), "Top by messages", "messages")
    canvas.hbars(inner, ranked_bars(model.top_messages[:5], theme.messages, "messages"))
    inner = canvas.panel((b0, body_top, b1, body_bottom), "Top by voice", "minutes")
    canvas.hbars(inner, ranked_bars(model.top_voice[:5], theme.voice, "count"))
    note = f"{model.events_held} events" if model.events_held else None
    if len(model.attendance) > 8:
        note = f"top 8 of {len(model.attendance)}"
    inner = canvas.panel((c0, body_top, c1, body_bottom), "Event minutes", note)
    bars = ranked_bars(model.attendance[:8], theme.warn, "count")
    if not bars:
        canvas.empty_note(inner, "No event attendance")
    else:
        canvas.hbars(inner, bars)

    count = len(model.never_present)
    title = f"Never present at an event ({count})" if count else "Never present at an event"
    inner = canvas.panel((MARGIN, absent_top, width - MARGIN, height - MARGIN), title)
    if not count:
        canvas.text((inner[0], inner[1] + 4), "Everyone attended at least one event this week.", colour=theme.good)
        return canvas.png()
    _chips(canvas, inner, [th.safe_text(n, "member") for n in model.never_present])
    return canvas.png()


def _chips(canvas: Canvas, box: tuple[int, int, int, int], names: list[str]) -> None:
    """Names as rounded chips, wrapped over the lines that fit, with ``+N more`` at the end."""
    t = canvas.theme
    left, top, right, bottom = box
    fnt = th.font(th.SMALL_PX)
    chip_h, pad, gap = 32, 12, 8
    x, y = left, top
    for i, name in enumerate(names):
        label = th.fit_text(name, fnt, 260)
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
