"""Pillow drawing primitives shared by every report: header, tiles, bars, heatmap, avatars.

Pillow draws text, bars and grids an order of magnitude faster than matplotlib, so
everything but anti-aliased curves is drawn here; ``plot`` supplies the curves.
"""

from __future__ import annotations

import functools
import logging
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bot.render import theme as th
from bot.render.models import WEEKDAYS, FloatArray
from bot.render.theme import RGB, Theme

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # left, top, right, bottom
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a horizontal bar list: its label, the segments' values and the printed value."""

    label: str
    segments: tuple[tuple[float, RGB], ...]
    value_text: str
    avatar: tuple[int, bytes | None] | None = None  # (user id, PNG bytes) for a member row
    icon: str | None = None  # a glyph in its own column before the label ("" leaves the slot empty)
    emoji: str | None = None  # an emoji for the icon column: drawn in colour (or from ``emoji_png``)
    emoji_png: bytes | None = None  # a custom emoji's image


def nice_step(vmax: float, count: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 × 10^n) giving about ``count`` ticks up to ``vmax``."""
    if vmax <= 0:
        return 1.0
    raw = vmax / count
    power = 10.0 ** np.floor(np.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= mult * power:
            step = mult * power
            return float(step if step >= 1 else max(step, 1.0))
    return float(10 * power)


def nice_max(vmax: float, count: int = 4) -> tuple[float, float]:
    """The axis top and tick step for data reaching ``vmax``."""
    step = nice_step(vmax, count)
    top = step * max(1, int(np.ceil(vmax / step - 1e-9)))
    return top, step


def heat_colour(theme: Theme, share: float) -> RGB:
    """The heatmap colour of a cell holding ``share`` (0..1) of the busiest cell: empty, then dark to light accent."""
    if share <= 0:
        return theme.heat_low
    level = 0.1 + 0.9 * share**0.8
    if level < 0.55:
        return th.mix(theme.heat_low, theme.accent, level / 0.55)
    return th.mix(theme.accent, theme.heat_high, (level - 0.55) / 0.45)


@functools.lru_cache(maxsize=4096)
def _text_mask(fnt: ImageFont.FreeTypeFont, text: str, anchor: str) -> tuple[Any, tuple[int, int]]:
    """The rasterised text and its offset, cached: labels repeat across every image a worker draws."""
    return fnt.getmask2(text, "L", anchor=anchor)


class CachedTextDraw(ImageDraw.ImageDraw):
    """``ImageDraw`` whose single-line text is rasterised once per (font, text, anchor) and then reused.

    FreeType rasterisation is most of the cost of drawing a label; replaying the cached
    mask with ``draw_bitmap`` is what ``ImageDraw.text`` itself does after rasterising.
    Positions are whole pixels (no sub-pixel start), which every caller here uses anyway.
    """

    def text(  # type: ignore[override]
        self,
        xy: tuple[float, float],
        text: str,
        fill: RGB | None = None,
        font: ImageFont.FreeTypeFont | None = None,
        anchor: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Draw ``text``; anything beyond one plain line in a TrueType font goes to Pillow's own path."""
        if kwargs or font is None or fill is None or "\n" in text:
            super().text(xy, text, fill=fill, font=font, anchor=anchor, **kwargs)
            return
        mask, (dx, dy) = _text_mask(font, text, anchor or "la")
        self.draw.draw_bitmap((int(xy[0]) + dx, int(xy[1]) + dy), mask, self.draw.draw_ink(fill))


@functools.cache
def _circle_mask(diameter: int) -> Image.Image:
    """An anti-aliased circular mask (drawn at 4× and reduced), cached per size."""
    big = Image.new("L", (diameter * 4, diameter * 4), 0)
    ImageDraw.Draw(big).ellipse((0, 0, diameter * 4 - 1, diameter * 4 - 1), fill=255)
    return big.resize((diameter, diameter), Image.Resampling.BOX)


class Canvas:
    """One report image being drawn, with the helpers that keep the visual language consistent."""

    def __init__(self, size: tuple[int, int], theme: Theme) -> None:
        self.size = size
        self.theme = theme
        self.image = Image.new("RGB", size, theme.background)
        self.draw = CachedTextDraw(self.image)

    # Text ---------------------------------------------------------------------------
    def text(
        self,
        xy: tuple[float, float],
        text: str,
        size: int = th.BODY_PX,
        *,
        weight: str = "regular",
        colour: RGB | None = None,
        anchor: str = "la",
        max_width: int | None = None,
    ) -> int:
        """Draw ``text`` (shortened to ``max_width``) and return its width in pixels."""
        fnt = th.font(size, weight)
        text = th.drawable(text)
        if max_width is not None:
            text = th.fit_text(text, fnt, max_width)
        self.draw.text(xy, text, font=fnt, fill=colour or self.theme.text, anchor=anchor)
        return th.text_width(text, fnt)

    def header(self, title: str, subtitle: str, kind: str) -> None:
        """The guild name, the period and the report's kind across the top."""
        t = self.theme
        width = self.size[0]
        self.draw.rectangle((0, 0, width, 5), fill=t.accent)
        kind_w = th.text_width(kind.upper(), th.font(th.SMALL_PX, "bold"))
        self.text((width - th.MARGIN, 28), kind.upper(), th.SMALL_PX, weight="bold", colour=t.accent, anchor="ra")
        self.text(
            (th.MARGIN, 18),
            th.safe_text(title, "Server"),
            th.TITLE_PX,
            weight="bold",
            max_width=width - 3 * th.MARGIN - kind_w,
        )
        self.text((th.MARGIN, 64), subtitle, th.SUBTITLE_PX, colour=t.text_muted, max_width=width - 2 * th.MARGIN)

    def panel(self, box: Box, title: str | None = None, note: str | None = None) -> Box:
        """A rounded surface with an optional title (and a note at its right); returns the inner box."""
        self.draw.rounded_rectangle(box, radius=12, fill=self.theme.surface)
        left, top, right, bottom = box
        if title is None:
            return (left + 16, top + 14, right - 16, bottom - 14)
        heading = th.font(th.HEADING_PX, "bold")
        room = right - left - 32
        note_w = 0
        # The note gives way to the title: a panel too narrow for both shows the title alone.
        if note and th.text_width(note, th.font(th.SMALL_PX)) + 16 + th.text_width(title, heading) <= room:
            note_w = self.text(
                (right - 16, top + 16), note, th.SMALL_PX, colour=self.theme.text_dim, anchor="ra", max_width=room
            )
        title_room = room - note_w - (16 if note_w else 0)
        self.text((left + 16, top + 12), title, th.HEADING_PX, weight="bold", max_width=title_room)
        return (left + 16, top + 54, right - 16, bottom - 14)

    def stat_tile(
        self,
        box: Box,
        label: str,
        value: str,
        *,
        colour: RGB,
        sub: str | None = None,
        sub_colour: RGB | None = None,
        sub_space: bool | None = None,
    ) -> None:
        """A key figure: a small label over a large number, with a coloured mark and a sub-line.

        ``sub_space`` keeps room for a sub-line even without one, so tiles in a row line up.
        """
        t = self.theme
        left, top, right, bottom = box
        self.draw.rounded_rectangle(box, radius=12, fill=t.surface)
        self.draw.rounded_rectangle((left, top + 14, left + 5, bottom - 14), radius=2, fill=colour)
        inner = right - left - 36
        block = 30 + th.FIGURE_PX + (34 if (sub_space if sub_space is not None else sub) else 0)
        y = top + max(10, (bottom - top - block) // 2)
        self.text((left + 20, y), label, th.SMALL_PX, colour=t.text_muted, max_width=inner)
        self.text((left + 20, y + 28), value, th.FIGURE_PX, weight="bold", max_width=inner)
        if sub:
            self.text(
                (left + 20, y + 28 + th.FIGURE_PX + 10),
                sub,
                th.SMALL_PX,
                weight="bold" if sub_colour else "regular",
                colour=sub_colour or t.text_dim,
                max_width=inner,
            )

    def paragraph(
        self,
        xy: tuple[int, int],
        text: str,
        width: int,
        size: int = th.BODY_PX,
        *,
        colour: RGB | None = None,
        lines: int = 3,
    ) -> int:
        """Text wrapped to ``width`` in at most ``lines`` lines (the last one shortened); returns the height used."""
        fnt = th.font(size)
        words = th.drawable(text).split()
        rows: list[str] = []
        while words and len(rows) < lines:
            row = words.pop(0)
            while words and fnt.getlength(row + " " + words[0]) <= width:
                row += " " + words.pop(0)
            rows.append(row)
        if words and rows:
            rows[-1] = th.fit_text(rows[-1] + " " + " ".join(words), fnt, width)
        line_h = int(size * 1.3)
        for i, row in enumerate(rows):
            self.draw.text(
                (xy[0], xy[1] + i * line_h), th.fit_text(row, fnt, width), font=fnt, fill=colour or self.theme.text
            )
        return line_h * len(rows)

    def empty_note(self, box: Box, text: str = "Nothing recorded") -> None:
        """A muted sentence centred in ``box`` where a chart has nothing to show."""
        cx = (box[0] + box[2]) // 2
        cy = (box[1] + box[3]) // 2
        self.text((cx, cy), text, th.BODY_PX, colour=self.theme.text_dim, anchor="mm")

    # Avatars ------------------------------------------------------------------------
    def avatar(self, xy: tuple[int, int], diameter: int, user_id: int, name: str, png: bytes | None) -> None:
        """A round avatar from PNG bytes, or initials on a circle coloured from the user id."""
        mask = _circle_mask(diameter)
        picture: Image.Image | None = None
        if png:
            # Decoded and scaled once per image and size (th.picture's cache): avatars repeat across reports.
            decoded = th.picture(png, diameter)
            if decoded is None:
                log.warning("Unreadable avatar for user %s", user_id)
            else:
                picture = Image.new("RGB", (diameter, diameter), self.theme.surface)
                picture.paste(decoded, (0, 0), decoded)
        if picture is None:
            picture = Image.new("RGB", (diameter, diameter), th.user_colour(user_id))
            letters = th.initials(name)
            size = int(diameter * (0.42 if len(letters) == 1 else 0.36))
            if size < th.SMALL_PX:
                # A small avatar holds one letter at the smallest legible size rather than two unreadable ones.
                letters, size = letters[:1], th.SMALL_PX
            ImageDraw.Draw(picture).text(
                (diameter / 2, diameter / 2),
                letters,
                font=th.font(size, "bold"),
                fill=(255, 255, 255),
                anchor="mm",
            )
        self.image.paste(picture, xy, mask)

    # Bars ---------------------------------------------------------------------------
    def hbars(
        self,
        box: Box,
        bars: Sequence[Bar],
        *,
        label_w: int | None = None,
        row_h: int = 0,
        scale_max: float | None = None,
    ) -> None:
        """Horizontal bars, one row per item: label, (stacked) bar, value at the right end.

        ``scale_max`` is the value of a full bar, when several lists share one scale
        (the two columns of a leaderboard); by default the longest bar of this list.
        """
        t = self.theme
        left, top, right, bottom = box
        if not bars:
            self.empty_note(box)
            return
        row_h = row_h or min(48, (bottom - top) // len(bars))
        size = th.BODY_PX if row_h >= 44 else th.SMALL_PX
        fnt = th.font(size)
        value_fnt = th.font(size, "bold")
        with_avatar = any(bar.avatar for bar in bars)
        avatar_d = min(row_h - 8, 34) if with_avatar else 0
        icon_w = 38 if any(bar.icon is not None or bar.emoji is not None for bar in bars) else 0
        icon_d = min(row_h - 6, 32)
        value_w = max(th.text_width(bar.value_text, value_fnt) for bar in bars) + 10
        if label_w is None:
            longest = max(th.text_width(bar.label, fnt) for bar in bars)
            label_w = min(longest + 14, int((right - left) * 0.5))
        bar_left = left + avatar_d + (10 if avatar_d else 0) + icon_w + label_w
        bar_span = max(right - value_w - bar_left, 24)
        vmax = scale_max or max((sum(v for v, _ in bar.segments) for bar in bars), default=0.0) or 1.0
        thickness = max(10, int(row_h * 0.45))
        for i, bar in enumerate(bars):
            cy = top + i * row_h + row_h // 2
            x = left
            if bar.avatar is not None and avatar_d:
                uid, png = bar.avatar
                self.avatar((x, cy - avatar_d // 2), avatar_d, uid, bar.label, png)
                x += avatar_d + 10
            if icon_w:
                picture = None
                if bar.emoji_png is not None:
                    picture = th.picture(bar.emoji_png, icon_d)
                elif bar.emoji is not None:
                    picture = th.emoji_image(bar.emoji, icon_d)
                if picture is not None:
                    self.image.paste(picture, (x, cy - icon_d // 2), picture)
                elif bar.icon:
                    self.draw.text((x + icon_d // 2, cy), bar.icon, font=fnt, fill=t.text, anchor="mm")
                x += icon_w
            self.draw.text(
                (x, cy), th.fit_text(th.drawable(bar.label), fnt, label_w - 14), font=fnt, fill=t.text, anchor="lm"
            )
            self.draw.rounded_rectangle(
                (bar_left, cy - thickness // 2, bar_left + bar_span, cy + thickness // 2),
                radius=4,
                fill=t.surface_alt,
            )
            start = float(bar_left)
            end = start
            for value, colour in bar.segments:
                length = bar_span * value / vmax
                if length <= 0:
                    continue
                end = start + max(length, 3.0)
                self.draw.rounded_rectangle(
                    (int(start), cy - thickness // 2, int(end), cy + thickness // 2), radius=4, fill=colour
                )
                start = end
            self.draw.text((right, cy), bar.value_text, font=value_fnt, fill=t.text, anchor="rm")

    def legend(self, xy: tuple[int, int], entries: Sequence[tuple[str, RGB]], size: int = th.SMALL_PX) -> int:
        """Coloured squares with labels in a row; returns the right edge."""
        x, y = xy
        for label, colour in entries:
            self.draw.rounded_rectangle((x, y - 8, x + 16, y + 8), radius=3, fill=colour)
            x += 24 + self.text((x + 24, y), label, size, colour=self.theme.text_muted, anchor="lm") + 24
        return x

    # Heatmap ------------------------------------------------------------------------
    def heatmap(self, box: Box, matrix: FloatArray, *, unit: str = "activity") -> None:
        """An hour-of-week heatmap: 7 rows Mon..Sun, 24 columns, hour labels along the bottom, a scale under them."""
        t = self.theme
        left, top, right, bottom = box
        values = np.nan_to_num(np.asarray(matrix, dtype=np.float64).reshape(7, 24))
        fnt = th.font(th.SMALL_PX)
        label_w = th.text_width("Mon", fnt) + 12
        legend_h = 34
        hours_h = 30
        grid_left = left + label_w
        cell_w = (right - grid_left) / 24
        cell_h = (bottom - top - hours_h - legend_h) / 7
        gap = 2 if cell_w >= 12 else 1
        vmax = float(values.max()) or 1.0
        for row in range(7):
            y0 = top + row * cell_h
            self.draw.text((left, y0 + cell_h / 2), WEEKDAYS[row], font=fnt, fill=t.text_muted, anchor="lm")
            for col in range(24):
                value = values[row, col]
                colour = heat_colour(t, value / vmax)
                x0 = grid_left + col * cell_w
                self.draw.rectangle((int(x0), int(y0), int(x0 + cell_w) - gap, int(y0 + cell_h) - gap), fill=colour)
        label_y = top + 7 * cell_h + 4
        # A label every 3 hours when the cells are wide enough for it, else every 6.
        every = 3 if cell_w * 3 >= th.text_width("00h", fnt) + 12 else 6
        for hour in range(0, 24, every):
            self.draw.text((grid_left + hour * cell_w, label_y), f"{hour:02d}h", font=fnt, fill=t.text_dim, anchor="la")
        # Scale: from no activity to the busiest hour (the scale gives way when the line is short).
        ly = bottom - legend_h // 2 + 2
        busiest = f"busiest hour: {th.fmt_int(vmax)} {unit}"
        busiest_w = th.text_width(busiest, fnt)
        scale_w = th.text_width("Less", fnt) + th.text_width("More", fnt) + 6 * 19 + 28
        x = left
        if x + scale_w + 24 + busiest_w <= right:
            x += self.text((x, ly), "Less", th.SMALL_PX, colour=t.text_dim, anchor="lm") + 8
            for step in range(6):
                colour = heat_colour(t, step / 5)
                self.draw.rectangle((x, ly - 8, x + 16, ly + 8), fill=colour)
                x += 19
            self.text((x + 6, ly), "More", th.SMALL_PX, colour=t.text_dim, anchor="lm")
        self.text((right, ly), busiest, th.SMALL_PX, colour=t.text_dim, anchor="rm", max_width=right - left)

    # Output -------------------------------------------------------------------------
    def png(self) -> bytes:
        """The image as PNG bytes (see ``encode_png``)."""
        return encode_png(self.image)


def _chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, tag, data, CRC."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(image: Image.Image) -> bytes:
    """An RGB image as a minimal PNG: no timestamp, text or software chunks, so identical input gives identical bytes.

    Written by hand because Pillow's encoder picks a filter per row adaptively, which
    costs two to three times the compression itself on these flat-coloured images;
    with no filter and fast zlib the file is a little larger and written 2–3× faster.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    rows = np.empty((height, width * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None on every row
    rows[:, 1:] = np.frombuffer(rgb.tobytes(), dtype=np.uint8).reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), th.PNG_COMPRESS_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )
