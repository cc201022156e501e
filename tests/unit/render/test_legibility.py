"""Every report stays legible where Discord shows it: at 400 px wide no text is under 11 px.

The sizes are not hard-coded here: each renderer runs with its drawing calls recorded
(``textboxes``), and every text it draws (Pillow text on the report, avatar initials on
their pictures, text artists of the matplotlib figures) is measured against the width
of the image it ends up in, as if the image were scaled to 400 px.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bot.render import KINDS, samples
from bot.render import theme as th
from bot.render.canvas import Canvas
from bot.render.models import EventAttendee, RankedItem
from tests.unit.render.test_text_in_panels import awkward
from tests.unit.render.textboxes import drawn, recording

DISPLAY_W = 400  # how wide Discord shows an attached image, desktop chat column and phones
MIN_PX = 11.0  # the smallest text height at that width


def _many_members(kind: str) -> Any:
    """The kind's sample with 25–50 members wherever it lists members (the densest layouts)."""
    model = getattr(samples, kind)()
    members = tuple(RankedItem(f"Member number {i}", float(1000 - i), i) for i in range(50))
    if kind == "leaderboard":
        return samples.leaderboard(count=25)
    if kind == "event_hour":
        rng = np.random.default_rng(0)
        attendees = tuple(EventAttendee(f"Member {i}", rng.random(60) > 0.3, i) for i in range(50))
        return dataclasses.replace(model, attendees=attendees)
    if kind == "weekly":
        names = tuple(m.name for m in members)
        return dataclasses.replace(model, top_messages=members, attendance=members, never_present=names)
    if kind in ("server", "channel"):
        return dataclasses.replace(model, top_members=members)
    return model


VARIANTS: dict[str, Callable[[str], Any]] = {
    "sample": lambda kind: getattr(samples, kind)(),
    "long names": awkward,
    "many members": _many_members,
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", KINDS)
def test_smallest_text_is_at_least_11_px_at_400_px(monkeypatch: pytest.MonkeyPatch, kind: str, variant: str) -> None:
    model = VARIANTS[variant](kind)
    drawing = drawn(monkeypatch, kind, model)
    assert drawing.texts
    text, px = drawing.smallest_at(DISPLAY_W)
    assert px >= MIN_PX, f"{kind} ({variant}): {text!r} is {px:.1f} px tall at {DISPLAY_W} px wide"
    for text, size in drawing.figure_texts:
        assert size * DISPLAY_W / drawing.width >= MIN_PX, (kind, text, size)


@pytest.mark.parametrize("days", [1, 7, 30, 90, 365])
def test_every_period_of_the_server_report_is_legible(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    drawing = drawn(monkeypatch, "server", samples.server(days))
    assert drawing.smallest_at(DISPLAY_W)[1] >= MIN_PX


def test_the_curves_drawn_by_matplotlib_are_measured_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # The mentor card's sparkline is drawn on a matplotlib figure: its text artists are in the record.
    drawing = drawn(monkeypatch, "mentor", samples.mentor())
    assert drawing.figure_draws >= 1
    assert all(px * DISPLAY_W / drawing.width >= MIN_PX for _, px in drawing.figure_texts)


def test_avatar_initials_are_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    drawing = drawn(monkeypatch, "leaderboard", samples.leaderboard(count=25))
    assert drawing.picture_texts, "the sample leaderboard has members without an avatar"
    assert min(px for _, px in drawing.picture_texts) * DISPLAY_W / drawing.width >= MIN_PX


def test_the_check_catches_small_type(monkeypatch: pytest.MonkeyPatch) -> None:
    # 17 px on a 1200 px canvas, as the reports had it: 5.7 px at 400 px.
    with recording(monkeypatch, 1200, 675) as drawing:
        canvas = Canvas((1200, 675), th.DARK)
        canvas.text((10, 10), "Voice minutes", 17)
        canvas.text((10, 40), "1,234", 40, weight="bold")
    text, px = drawing.smallest_at(DISPLAY_W)
    assert text == "Voice minutes" and px == pytest.approx(17 * 400 / 1200)
    assert px < MIN_PX
