"""Every image's alt text states the figures the image draws big, and the model's changes, per kind."""

from __future__ import annotations

import re

import pytest

from bot.render import KINDS, alt_text, samples
from bot.render import theme as th
from bot.render.alt import delta_text
from bot.render.models import Change, MemberGrowth
from tests.unit.render.textboxes import drawn


def spoken(figure: str) -> list[str]:
    """How a drawn figure reads in the alt text: ``#4`` as rank 4, ``26 / 30`` as 26 of 30, ``39 min`` as 39."""
    if match := re.fullmatch(r"#(\d+)", figure):
        return [f"Rank {match.group(1)}"]
    if match := re.fullmatch(r"(\d+) / (\d+)", figure):
        return [f"{match.group(1)} of {match.group(2)}"]
    if match := re.fullmatch(r"([\d,]+) min", figure):
        return [f": {match.group(1)}", f"{match.group(1)} min"]
    return [figure]


@pytest.mark.parametrize("kind", KINDS)
def test_the_alt_text_states_every_big_figure_of_the_image(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    model = getattr(samples, kind)()
    alt = alt_text(kind, model)
    big = [t.text for t in drawn(monkeypatch, kind, model).texts if t.size >= th.FIGURE_PX]
    assert big or kind == "leaderboard"
    for figure in big:
        assert any(words in alt for words in spoken(figure)), (figure, alt)


@pytest.mark.parametrize("kind", ["server", "user", "channel"])
def test_the_alt_text_states_each_change_against_the_previous_period(kind: str) -> None:
    model = getattr(samples, kind)()
    assert model.changes
    alt = alt_text(kind, model)
    for change in model.changes:
        assert f"{change.name} {delta_text(change, model.compared_with)}" in alt, alt


def test_server_growth_in_alt_text() -> None:
    model = samples.server()
    assert model.growth == MemberGrowth(12, 7)
    assert "Members: 12 joined, 7 left, net +5." in alt_text("server", model)


@pytest.mark.parametrize(
    ("value", "previous", "words"),
    [
        (112, 100, "+12 % vs previous 7 days"),
        (88, 100, "-12 % vs previous 7 days"),
        (100, 100, "no change vs previous 7 days"),
        (5, 0, "new: none in the previous 7 days"),
        (0, 0, "none, as in the previous 7 days"),
    ],
)
def test_delta_words(value: int, previous: int, words: str) -> None:
    assert delta_text(Change("Messages", value, previous), "previous 7 days") == words
