"""Recording what a renderer draws: every text with its font size and bounding box, and every panel.

``drawn(kind, model)`` renders with Pillow's text and rounded-rectangle calls
wrapped, so that a test can compare each text's box with the canvas and with the
panel (surface) it was drawn on, and read the smallest font size used. Text drawn
on small pictures pasted into the report (avatar initials) and text artists of the
matplotlib figures the curves are drawn on are recorded too, with their sizes in
pixels, so that no text escapes the legibility check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from PIL import ImageDraw, ImageFont

from bot.render import canvas as canvas_module
from bot.render import theme as th
from bot.render.reports import image_size, render

Box = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class DrawnText:
    """One text as drawn: what, at which font size, and the pixels it covers."""

    text: str
    size: int
    box: Box


@dataclass(slots=True)
class Drawing:
    """Everything one render drew."""

    width: int
    height: int
    texts: list[DrawnText] = field(default_factory=list)
    panels: list[Box] = field(default_factory=list)
    picture_texts: list[tuple[str, int]] = field(default_factory=list)  # (text, px) on pasted pictures
    figure_texts: list[tuple[str, float]] = field(default_factory=list)  # (text, px) of matplotlib artists
    figure_draws: int = 0

    def sizes(self) -> list[tuple[str, float]]:
        """Every text drawn anywhere in the image with its font size in pixels."""
        return [(t.text, float(t.size)) for t in self.texts] + [
            (text, float(px)) for text, px in (*self.picture_texts, *self.figure_texts)
        ]

    def smallest_at(self, display_width: int) -> tuple[str, float]:
        """The smallest text and its height in pixels when the image is shown ``display_width`` px wide."""
        text, px = min(self.sizes(), key=lambda item: item[1])
        return text, px * display_width / self.width

    def panel_of(self, text: DrawnText) -> Box | None:
        """The smallest panel holding the text's top-left corner, if any."""
        x, y = text.box[0], text.box[1]
        inside = [p for p in self.panels if p[0] <= x < p[2] and p[1] <= y < p[3]]
        return min(inside, key=lambda p: (p[2] - p[0]) * (p[3] - p[1]), default=None)


def _box(xy: Any, text: str, font: ImageFont.FreeTypeFont, anchor: str | None) -> Box:
    left, top, right, bottom = font.getbbox(text, anchor=anchor or "la")
    x, y = int(xy[0]), int(xy[1])
    return (x + int(left), y + int(top), x + int(right), y + int(bottom))


@contextmanager
def recording(monkeypatch: pytest.MonkeyPatch, width: int, height: int) -> Iterator[Drawing]:
    """Wrap the drawing calls for the duration of the block."""
    drawing = Drawing(width, height)
    plain_text = ImageDraw.ImageDraw.text
    cached_text = canvas_module.CachedTextDraw.text
    rounded = ImageDraw.ImageDraw.rounded_rectangle
    figure_draw_plain = FigureCanvasAgg.draw

    def note(xy: Any, text: str, font: Any, anchor: str | None) -> None:
        if isinstance(font, ImageFont.FreeTypeFont) and text.strip():
            drawing.texts.append(DrawnText(text, int(font.size), _box(xy, text, font, anchor)))

    def text_plain(self: Any, xy: Any, text: Any, fill: Any = None, font: Any = None, anchor: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        # Boxes only for text drawn on the report itself; avatar initials are drawn on pictures of their
        # own, pasted 1:1 (their size counts, their box is the picture's). Emoji glyphs are pictures, scaled.
        if isinstance(self, canvas_module.CachedTextDraw):
            note(xy, str(text), font, anchor)
        elif isinstance(font, ImageFont.FreeTypeFont) and str(text).strip() and font is not th.emoji_font():
            drawing.picture_texts.append((str(text), int(font.size)))
        return plain_text(self, xy, text, fill, font, anchor, **kw)

    def figure_draw(self: FigureCanvasAgg, *args: Any, **kw: Any) -> Any:
        drawing.figure_draws += 1
        dpi = float(self.figure.dpi)
        for artist in self.figure.findobj(Text):
            assert isinstance(artist, Text)
            if artist.get_visible() and artist.get_text().strip():
                drawing.figure_texts.append((artist.get_text(), float(artist.get_fontsize()) * dpi / 72))
        return figure_draw_plain(self, *args, **kw)  # type: ignore[no-untyped-call]

    def text_cached(self: Any, xy: Any, text: str, fill: Any = None, font: Any = None, anchor: Any = None, **kw: Any):  # type: ignore[no-untyped-def]
        if not (kw or font is None or fill is None or "\n" in text):
            note(xy, text, font, anchor)
        return cached_text(self, xy, text, fill, font, anchor, **kw)

    def rounded_rect(self: Any, xy: Any, radius: float = 0, *args: Any, **kw: Any):  # type: ignore[no-untyped-def]
        box = tuple(int(v) for v in xy)
        if radius >= 12 and box[2] - box[0] > 60 and box[3] - box[1] > 40:  # surfaces, not chips or bars
            drawing.panels.append(box)  # type: ignore[arg-type]
        return rounded(self, xy, radius, *args, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", text_plain)
    monkeypatch.setattr(canvas_module.CachedTextDraw, "text", text_cached)
    monkeypatch.setattr(ImageDraw.ImageDraw, "rounded_rectangle", rounded_rect)
    monkeypatch.setattr(FigureCanvasAgg, "draw", figure_draw)
    try:
        yield drawing
    finally:
        monkeypatch.undo()


def drawn(monkeypatch: pytest.MonkeyPatch, kind: str, model: Any) -> Drawing:
    """Render ``kind`` for ``model`` and return what was drawn."""
    width, height = image_size(kind, model)
    with recording(monkeypatch, width, height) as drawing:
        render(kind, model)
    return drawing


def escapes(drawing: Drawing, slack: int = 1) -> list[tuple[DrawnText, Box]]:
    """Texts whose box leaves the canvas or the panel they start in (with ``slack`` pixels of tolerance)."""
    out = []
    canvas_box = (0, 0, drawing.width, drawing.height)
    for text in drawing.texts:
        frame = drawing.panel_of(text) or canvas_box
        left, top, right, bottom = text.box
        if left < frame[0] - slack or top < frame[1] - slack or right > frame[2] + slack or bottom > frame[3] + slack:
            out.append((text, frame))
    return out
