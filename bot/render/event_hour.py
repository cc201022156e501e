"""The event-hour report: one row per member, a cell per minute present, the total at the right."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from PIL import Image

from bot.render import theme as th
from bot.render.alt import ordered_attendees
from bot.render.canvas import Canvas
from bot.render.models import EventHourReport, to_zone
from bot.render.theme import DARK, EVENT_HOUR_WIDTH, MARGIN, Theme

SUMMARY_TOP = th.HEADER_H + 6
SUMMARY_H = 124
PANEL_TOP = SUMMARY_TOP + SUMMARY_H + 12
TICKS_H = 92  # panel title and minute labels above the grid
LEGEND_H = 52
MIN_HEIGHT = th.CHART_SIZE[1]


def row_height(count: int) -> int:
    """Pixels per member row: roomy for a few members, compact (the names stay 22 px) for ~50."""
    if count <= 16:
        return 36
    return 30


def event_hour_size(count: int) -> tuple[int, int]:
    """The image size for ``count`` members: fixed width, height growing with the rows."""
    rows = max(count, 1)
    height = PANEL_TOP + TICKS_H + rows * row_height(count) + LEGEND_H + MARGIN
    return EVENT_HOUR_WIDTH, max(height, MIN_HEIGHT)


def _grid(present: np.ndarray, width: int, row_h: int, colours: tuple[th.RGB, th.RGB, th.RGB, th.RGB]) -> Image.Image:
    """The presence grid as one image built with numpy: a cell per minute, striped gaps between cells."""
    rows, minutes = present.shape
    on, off, gap_even, gap_odd = (np.array(c, dtype=np.uint8) for c in colours)
    edges = np.round(np.linspace(0, width, minutes + 1)).astype(int)
    xs = np.arange(width)
    col = np.searchsorted(edges, xs, side="right") - 1
    col_gap = xs >= edges[col + 1] - (2 if width / minutes >= 8 else 1)
    ys = np.arange(rows * row_h)
    row = ys // row_h
    inset = 4 if row_h >= 26 else 3
    row_gap = ((ys % row_h) < inset) | ((ys % row_h) >= row_h - inset)
    # Colour per pixel column pattern: cell or gap; per pixel row: which row, stripe, gap.
    pixels = np.empty((rows * row_h, width, 3), dtype=np.uint8)
    lookup = np.stack([off, on])
    for r in range(rows):
        line = lookup[present[r, col].astype(np.intp)]
        line[col_gap] = gap_even if r % 2 == 0 else gap_odd
        pixels[r * row_h : (r + 1) * row_h] = line
    pixels[row_gap] = np.where((row[row_gap] % 2 == 0)[:, None], gap_even, gap_odd)[:, None, :]
    return Image.frombytes("RGB", (width, rows * row_h), pixels.tobytes())


def render_event_hour(model: EventHourReport, *, theme: Theme = DARK) -> bytes:
    """The event-hour image: minute-by-minute presence per member, with total minutes each."""
    minutes_total = max(model.minutes, 1)
    attendees = ordered_attendees(model.attendees)
    count = len(attendees)
    size = event_hour_size(count)
    canvas = Canvas(size, theme)
    width, height = size
    start = to_zone(model.start, model.timezone)
    end = start + timedelta(minutes=minutes_total)
    when = f"{start:%a %d %b}, {start:%H:%M}–{end:%H:%M} ({model.timezone})"
    canvas.header(model.guild_name, f"{th.safe_text(model.event_name, 'Event')} · {when}", "Event hour")

    totals = [a.minutes for a in attendees]
    full = sum(1 for m in totals if m >= minutes_total)
    average = sum(totals) / count if count else 0.0
    # Three figures that read at 400 px; the member-minutes total is in the alt text.
    tiles = (
        ("Present", th.fmt_int(count), theme.accent),
        ("Average", f"{average:.0f} min", theme.voice),
        (f"Stayed all {minutes_total} min", th.fmt_int(full), theme.good),
    )
    tile_w = (width - 2 * MARGIN - 2 * 12) // 3
    for i, (label, value, colour) in enumerate(tiles):
        x0 = MARGIN + i * (tile_w + 12)
        canvas.stat_tile((x0, SUMMARY_TOP, x0 + tile_w, SUMMARY_TOP + SUMMARY_H), label, value, colour=colour)

    channels = ", ".join(th.safe_text(c) for c in model.channels)
    note = f"in {channels}" if channels else None
    panel = (MARGIN, PANEL_TOP, width - MARGIN, height - MARGIN)
    inner = canvas.panel(panel, "Minutes present", note)
    row_h = row_height(count)
    size_px = th.BODY_PX if row_h >= 36 else th.SMALL_PX
    fnt = th.font(size_px)
    bold = th.font(size_px, "bold")
    total_w = th.text_width("000 min", bold) + 8
    longest = max((th.text_width(th.safe_text(a.name), fnt) for a in attendees), default=0)
    name_w = min(max(longest + 16, 120), 220)
    grid_left = inner[0] + name_w
    grid_right = inner[2] - total_w - 10
    grid_top = PANEL_TOP + TICKS_H
    grid_w = grid_right - grid_left
    small = th.font(th.SMALL_PX)

    # Minute ticks along the top: a label every 15 minutes (30 when they would touch), a tick every 5.
    label_every = 15 if grid_w * 15 / minutes_total >= th.text_width("00:00", small) + 16 else 30
    for minute in range(0, minutes_total + 1, 5):
        x = grid_left + grid_w * minute / minutes_total
        major = minute % label_every == 0
        canvas.draw.line((int(x), grid_top - (10 if major else 5), int(x), grid_top - 2), fill=theme.text_dim)
        if major:
            label = f"{start + timedelta(minutes=minute):%H:%M}"
            anchor = "rb" if minute == minutes_total else ("lb" if minute == 0 else "mb")
            if minute == minutes_total:
                continue  # the end time is in the subtitle; "total" takes the right edge
            canvas.draw.text((x, grid_top - 13), label, font=small, fill=theme.text_muted, anchor=anchor)
    canvas.draw.text((inner[2], grid_top - 13), "total", font=small, fill=theme.text_muted, anchor="rb")

    if not attendees:
        canvas.empty_note((inner[0], grid_top, inner[2], grid_top + row_h * 2), "Nobody was present")
        return canvas.png()

    stripe = th.mix(theme.surface, theme.text, 0.035)
    for i in range(0, count, 2):
        y = grid_top + i * row_h
        canvas.draw.rectangle((inner[0] - 10, y, inner[2] + 10, y + row_h - 1), fill=stripe)
    present = np.zeros((count, minutes_total), dtype=bool)
    for i, attendee in enumerate(attendees):
        flags = np.asarray(attendee.present, dtype=bool)[:minutes_total]
        present[i, : flags.size] = flags
    grid = _grid(present, grid_w, row_h, (theme.voice, theme.surface_alt, stripe, theme.surface))
    canvas.image.paste(grid, (grid_left, grid_top))

    for i, attendee in enumerate(attendees):
        cy = grid_top + i * row_h + row_h // 2
        name = th.fit_text(th.safe_text(attendee.name, f"#{attendee.id}"), fnt, name_w - 14)
        canvas.draw.text((inner[0], cy), name, font=fnt, fill=theme.text, anchor="lm")
        minutes = totals[i]
        colour = theme.good if minutes >= minutes_total else theme.text
        canvas.draw.text((inner[2], cy), f"{minutes} min", font=bold, fill=colour, anchor="rm")

    legend_y = grid_top + count * row_h + LEGEND_H // 2
    canvas.legend(
        (inner[0], legend_y),
        (("present (30 s or more in the minute)", theme.voice), ("absent", theme.surface_alt)),
    )
    return canvas.png()
