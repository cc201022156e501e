"""No drawn text leaves its panel (or the image), for every report kind, with ordinary and awkward data."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.render import KINDS, samples
from bot.render.models import RankedItem
from tests.unit.render.textboxes import drawn, escapes

LONG = "An extraordinarily long display name that goes on and on and on"


def awkward(kind: str) -> Any:
    """The kind's sample with long names wherever it ranks members or channels."""
    model = getattr(samples, kind)()
    changes: dict[str, Any] = {}
    for field in ("top_members", "top_channels", "entries", "top_messages", "top_voice", "attendance"):
        items = getattr(model, field, None)
        if items:
            changes[field] = tuple(
                dataclasses.replace(i, name=f"{LONG} {n}") if isinstance(i, RankedItem) else i
                for n, i in enumerate(items)
            )
    for field in ("display_name", "guild_name", "channel_name"):
        if isinstance(getattr(model, field, None), str):
            changes[field] = LONG
    return dataclasses.replace(model, **changes)


@pytest.mark.parametrize("kind", KINDS)
def test_every_text_stays_inside_its_panel(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    for model in (getattr(samples, kind)(), awkward(kind)):
        drawing = drawn(monkeypatch, kind, model)
        assert drawing.texts and drawing.panels
        assert escapes(drawing) == [], kind
