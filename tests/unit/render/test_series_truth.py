"""/stats server's time charts: daily totals as bars (no voice drawn on days without any), the last day labelled."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from bot.render import charts, samples
from bot.render.reports import render
from bot.render.theme import CANVAS_W, DARK, MARGIN
from tests.unit.render.textboxes import drawn

# The voice chart: the second full-width chart under the 2x2 figures (charts.render_server's layout).
_CHARTS_TOP = charts.TILE_TOP + 2 * charts.TILE_H + 2 * charts.GAP
VOICE_PANEL = (
    MARGIN,
    _CHARTS_TOP + charts.CHART_H + charts.GAP,
    CANVAS_W - MARGIN,
    _CHARTS_TOP + 2 * charts.CHART_H + charts.GAP,
)


def voice_columns(png: bytes) -> np.ndarray:
    """For each x of the voice panel, whether any pixel there has the voice colour."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    left, top, right, bottom = VOICE_PANEL
    area = image[top:bottom, left:right]
    close = np.abs(area - np.array(DARK.voice, dtype=np.int16)).sum(axis=2) < 30
    return np.asarray(close.any(axis=0), dtype=bool)


def test_days_without_voice_show_no_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    base = samples.server(days=30)
    voice = np.zeros(30)
    voice[0], voice[29] = 500.0, 800.0  # voice on the first and the last day only
    model = dataclasses.replace(base, series=dataclasses.replace(base.series, voice_minutes=voice))
    coloured = voice_columns(render("server", model))
    width = coloured.size
    # The middle of the chart (days 3 to 26) holds no voice at all: no line joins the two days.
    assert not coloured[int(width * 0.2) : int(width * 0.8)].any()
    assert coloured[: int(width * 0.2)].any() and coloured[int(width * 0.8) :].any()


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_last_day_of_the_x_axis_is_labelled(monkeypatch: pytest.MonkeyPatch, days: int) -> None:
    model = samples.server(days=days)
    texts = [t.text for t in drawn(monkeypatch, "server", model).texts]
    last = model.series.bucket_starts()[-1]
    wanted = f"{last:%a %d}" if days <= 7 else f"{last:%d %b}"
    if days > 7 and len(model.series.messages) > 120:
        pytest.skip("month labels")
    assert texts.count(wanted) == 2, (wanted, texts)  # under both charts


def test_every_leaderboard_row_shares_one_scale() -> None:
    model = samples.leaderboard(count=25)
    entries = model.entries
    image = np.asarray(Image.open(io.BytesIO(render("leaderboard", model))).convert("RGB"), dtype=np.int16)
    colour = np.array(DARK.voice if model.metric.lower() == "voice" else DARK.messages, dtype=np.int16)
    row_h = charts.leaderboard_row_h(len(entries))
    rows_top = charts.TILE_TOP + 54  # the panel's title above the rows

    def lit(index: int) -> int:
        row = image[rows_top + index * row_h + row_h // 2]
        return int((np.abs(row - colour).sum(axis=1) < 30).sum())

    first, fourteenth = lit(0), lit(13)
    assert first > 0
    expected = float(entries[13].value) / float(entries[0].value)
    assert fourteenth / first == pytest.approx(expected, abs=0.08)
