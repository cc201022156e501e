"""Curves drawn by matplotlib (anti-aliased lines and areas) inside Pillow-drawn axes.

Matplotlib spends most of a chart's time on tick labels and layout; here it draws only
the data artists on a transparent, reused figure of the exact pixel size, and Pillow
adds the grid, the labels and the text, with fixed margins measured from the fonts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from bot.render import theme as th
from bot.render.canvas import Box, Canvas, nice_max
from bot.render.models import FloatArray
from bot.render.theme import RGB

DPI = 100
PAD = 4  # pixels around the plot area so that line ends are not clipped


@dataclass(frozen=True, slots=True)
class Curve:
    """One series to draw: values per bucket, its colour, and whether the area under it is filled.

    Only the line is drawn by matplotlib; ``fill_under`` paints the area with Pillow,
    which is about thirty times cheaper than ``fill_between`` and looks the same under a line.
    """

    values: FloatArray
    colour: RGB
    fill: bool = True
    width: float = 2.2


@functools.lru_cache(maxsize=32)
def _figure(width: int, height: int) -> tuple[FigureCanvasAgg, Axes]:
    """A reusable transparent figure with one bare axes filling it, per pixel size (a per-process cache)."""
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    agg = FigureCanvasAgg(fig)
    fig.patch.set_alpha(0.0)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.patch.set_alpha(0.0)
    return agg, ax


def curve_layer(width: int, height: int, curves: Sequence[Curve], ymax: float) -> Image.Image:
    """An RGBA image ``width``×``height`` (plus ``PAD`` each side) with the curves, x spanning the width."""
    agg, ax = _figure(width + 2 * PAD, height + 2 * PAD)
    for artist in [*ax.lines, *ax.collections]:
        artist.remove()
    total_w, total_h = width + 2 * PAD, height + 2 * PAD
    ax.set_position((PAD / total_w, PAD / total_h, width / total_w, height / total_h))
    count = max((len(c.values) for c in curves), default=1)
    ax.set_xlim(0, max(count - 1, 1))
    ax.set_ylim(0, ymax or 1.0)
    for curve in curves:
        ys = np.asarray(curve.values, dtype=np.float64)
        if ys.size == 1:
            ys = np.repeat(ys, 2)
        xs = np.arange(ys.size, dtype=np.float64)
        if ys.size != count and ys.size > 1:
            xs = xs * (max(count - 1, 1) / (ys.size - 1))
        colour = th.hex_colour(curve.colour)
        ax.plot(
            xs, ys, color=colour, linewidth=curve.width, solid_joinstyle="round", solid_capstyle="round", clip_on=False
        )
    # backend_agg has no annotations; both calls are the documented Agg API.
    agg.draw()  # type: ignore[no-untyped-call]
    buffer = agg.buffer_rgba()  # type: ignore[no-untyped-call]
    return Image.frombuffer("RGBA", (total_w, total_h), bytes(buffer), "raw", "RGBA", 0, 1)


def fill_under(canvas: Canvas, plot: Box, curve: Curve, ymax: float, alpha: float = 0.22) -> None:
    """Blend the area under ``curve`` into the plot box at ``alpha`` (x spans the box, y from 0 to ``ymax``)."""
    left, top, right, bottom = plot
    values = np.asarray(curve.values, dtype=np.float64)
    if values.size == 1:
        values = np.repeat(values, 2)
    if values.size == 0 or ymax <= 0:
        return
    width, height = right - left, bottom - top
    xs = np.linspace(0, width, values.size)
    ys = height - np.clip(values / ymax, 0, 1) * height
    points = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    mask = Image.new("L", (width + 1, height + 1), 0)
    ImageDraw.Draw(mask).polygon(
        [*points, (float(width), float(height)), (0.0, float(height))], fill=round(255 * alpha)
    )
    canvas.image.paste(curve.colour, (left, top, right + 1, bottom + 1), mask)


def paste_layer(canvas: Canvas, layer: Image.Image, left: int, top: int) -> None:
    """Composite a layer made by ``curve_layer`` whose plot area starts at (left, top)."""
    canvas.image.paste(layer, (left - PAD, top - PAD), layer)


def _time_labels(times: Sequence[datetime], step_hours: int) -> list[tuple[int, str]]:
    """Which buckets get an x label, and the label: hours, weekdays or dates as the span needs."""
    count = len(times)
    if step_hours < 24 and count <= 48:
        every = 3 if count <= 24 else 6
        return [(i, f"{t:%H:%M}") for i, t in enumerate(times) if t.hour % every == 0 and t.minute == 0]
    if step_hours < 24:
        return [(i, f"{t:%a %d}") for i, t in enumerate(times) if t.hour == 0 and t.minute == 0]
    stride = max(1, int(np.ceil(count / 7)))
    if count > 120:
        return [(i, f"{t:%Y}" if t.month == 1 else f"{t:%b}") for i, t in enumerate(times) if t.day == 1]
    chosen = list(range(0, count, stride))
    # The last day is always labelled (it is usually today); the regular label before it
    # gives way when the two would sit too close.
    if chosen and chosen[-1] != count - 1:
        if count - 1 - chosen[-1] < max(1, stride * 0.6):
            chosen.pop()
        chosen.append(count - 1)
    return [(i, f"{times[i]:%d %b}") for i in chosen]


def timeseries(
    canvas: Canvas,
    box: Box,
    times: Sequence[datetime],
    step_hours: int,
    curves: Sequence[Curve],
    *,
    y_ticks: int | None = None,
    bars: bool = False,
) -> None:
    """A time chart in ``box``: Pillow grid and labels, matplotlib curves (or Pillow bars).

    ``bars`` draws one bar per bucket, for totals per bucket (messages or voice minutes
    per day): a line between two buckets would suggest activity where there was none.
    """
    t = canvas.theme
    left, top, right, bottom = box
    count = max((len(c.values) for c in curves), default=0)
    vmax = max((float(np.max(c.values)) for c in curves if len(c.values)), default=0.0)
    if count == 0:
        canvas.empty_note(box)
        return
    if y_ticks is None:
        y_ticks = max(3, min(6, (bottom - top) // 90))  # about one grid line per 90 px
    top_value, step = nice_max(vmax, y_ticks) if vmax > 0 else (3.0, 1.0)
    fnt = th.font(th.SMALL_PX)
    labels = [th.fmt_compact(step * k) for k in range(round(top_value / step) + 1)]
    label_w = max(th.text_width(s, fnt) for s in labels)
    plot_left = left + label_w + 10
    plot_top = top + 10
    plot_right = right - 6
    plot_bottom = bottom - 34
    height = plot_bottom - plot_top
    width = plot_right - plot_left
    for k, label in enumerate(labels):
        y = plot_bottom - round(height * k * step / top_value)
        canvas.draw.line((plot_left, y, plot_right, y), fill=t.grid if k else th.mix(t.grid, t.text_dim, 0.4))
        canvas.draw.text((plot_left - 10, y), label, font=fnt, fill=t.text_dim, anchor="rm")
    span = max(count - 1, 1)
    if bars:
        span = count  # labels sit under the middle of their bar
    days_by_hour = step_hours < 24 and count > 48
    placed: list[tuple[float, float, float, str]] = []  # (x of the bucket, label left, width, label)
    for index, label in _time_labels(times, step_hours):
        x = plot_left + width * (index + (0.5 if bars else 0.0)) / span
        w = th.text_width(label, fnt)
        # A day of hourly buckets is labelled from its midnight line; a point is labelled centred.
        x0 = x + 5 if days_by_hour else min(max(x - w / 2, plot_left - label_w), right - w)
        if x0 + w > right:
            continue
        placed.append((x, x0, w, label))
    # Keep the last label (the period's end) and drop whichever labels before it would touch it.
    kept: list[tuple[float, float, float, str]] = []
    for item in placed:
        if kept and item[1] < kept[-1][1] + kept[-1][2] + 8:
            if item is not placed[-1]:
                continue
            while kept and item[1] < kept[-1][1] + kept[-1][2] + 8:
                kept.pop()
        kept.append(item)
    for x, x0, _w, label in kept:
        if days_by_hour:
            canvas.draw.line((int(x), plot_top, int(x), plot_bottom + 22), fill=t.grid)
        canvas.draw.text((x0, plot_bottom + 7), label, font=fnt, fill=t.text_dim, anchor="la")
    if vmax <= 0:
        canvas.text(
            ((plot_left + plot_right) // 2, (plot_top + plot_bottom) // 2),
            "Nothing recorded",
            th.BODY_PX,
            colour=t.text_dim,
            anchor="mm",
        )
    if bars:
        for curve in curves:
            bucket_bars(canvas, (plot_left, plot_top, plot_right, plot_bottom), curve, top_value)
        return
    for curve in curves:
        if curve.fill:
            fill_under(canvas, (plot_left, plot_top, plot_right, plot_bottom), curve, top_value)
    layer = curve_layer(width, height, curves, top_value)
    paste_layer(canvas, layer, plot_left, plot_top)


def bucket_bars(canvas: Canvas, plot: Box, curve: Curve, ymax: float) -> None:
    """One bar per bucket across the plot box (nothing where a bucket is zero), y from 0 to ``ymax``."""
    left, top, right, bottom = plot
    values = np.asarray(curve.values, dtype=np.float64)
    if values.size == 0 or ymax <= 0:
        return
    slot = (right - left) / values.size
    gap = max(1.0, slot * 0.18) if slot >= 4 else 0.0
    for i, value in enumerate(values):
        if value <= 0:
            continue
        x0 = left + i * slot + gap / 2
        x1 = max(x0 + 1, left + (i + 1) * slot - gap / 2 - 1)
        y = bottom - max(1, round((bottom - top) * min(value / ymax, 1.0)))
        canvas.draw.rectangle((int(x0), int(y), int(x1), bottom), fill=curve.colour)


def sparkline(canvas: Canvas, box: Box, values: FloatArray, colour: RGB) -> None:
    """A small trend line with its area, no axes, scaled to its own maximum."""
    left, top, right, bottom = box
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        canvas.empty_note(box)
        return
    canvas.draw.line((left, bottom, right, bottom), fill=canvas.theme.grid)
    vmax = float(values.max()) or 1.0
    curve = Curve(values, colour, True, 2.0)
    fill_under(canvas, box, curve, vmax * 1.08)
    layer = curve_layer(right - left, bottom - top, [curve], vmax * 1.08)
    paste_layer(canvas, layer, left, top)
