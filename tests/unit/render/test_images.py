"""Every report renders a valid PNG of its advertised size, deterministically, whatever the data."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot.render import KINDS, samples
from bot.render.models import (
    ActivitySeries,
    EmojiUse,
    EventAttendee,
    RankedItem,
    VoiceBreakdown,
    WeeklyTotal,
)
from bot.render.reports import RENDERERS, image_size, render
from bot.render.theme import CANVAS_W, CARD_SIZE, CHART_SIZE, EVENT_HOUR_WIDTH

SAMPLES: dict[str, Callable[[], Any]] = {kind: getattr(samples, kind) for kind in KINDS}
LONG = "An extraordinarily long display name that goes on and on ✨ with emoji 🎉 and 中文"


def decode(png: bytes) -> Image.Image:
    """Decode and fully verify a PNG."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(png)).verify()
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_every_kind_has_a_renderer() -> None:
    assert set(RENDERERS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_renders_valid_png_of_intended_size(kind: str) -> None:
    model = SAMPLES[kind]()
    image = decode(render(kind, model))
    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.size == image_size(kind, model)


def test_size_constants() -> None:
    # Every image is drawn 800 px wide for Discord's 400 px display (2x), cards as tall as their panels.
    assert image_size("server", samples.server()) == image_size("channel", samples.channel()) == CARD_SIZE
    assert CARD_SIZE[0] == CHART_SIZE[0] == EVENT_HOUR_WIDTH == 800
    assert {image_size(kind, getattr(samples, kind)())[0] for kind in KINDS} == {800}
    # A leaderboard is as tall as its rows: 3 rows do not sit in a frame made for 25.
    three, ten, full = (image_size("leaderboard", samples.leaderboard(count=n)) for n in (3, 10, 25))
    assert three[0] == ten[0] == full[0] == CHART_SIZE[0]
    assert three[1] < ten[1] < full[1] and three[1] <= 360
    width, height = image_size("event_hour", samples.event_hour(50))
    assert width == EVENT_HOUR_WIDTH
    assert height > image_size("event_hour", samples.event_hour(5))[1]


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic(kind: str) -> None:
    first = render(kind, SAMPLES[kind]())
    # Another report in between must not leak state through the reused figures.
    render("server", samples.server(30))
    assert render(kind, SAMPLES[kind]()) == first


def test_no_metadata_chunks() -> None:
    png = render("server", samples.server())
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"tIME"):
        assert chunk not in png


@pytest.mark.parametrize("kind", KINDS)
def test_light_theme(kind: str) -> None:
    image = decode(render(kind, SAMPLES[kind](), "light"))
    assert image.getpixel((CANVAS_W - 5, 95)) == (255, 255, 255)


def test_default_theme_is_dark() -> None:
    image = decode(render("server", samples.server()))
    assert image.getpixel((CANVAS_W - 5, 95)) == (49, 51, 56)


def _minimal(kind: str) -> Any:
    """The sample of ``kind`` cut down to one member / nothing recorded."""
    model = SAMPLES[kind]()
    zeros = np.zeros(24 * 7)
    if kind in ("server", "channel"):
        series = ActivitySeries(model.period.start, 1, zeros.copy(), zeros.copy())
        changes: dict[str, Any] = {"series": series, "messages": 0, "voice_minutes": 0.0, "top_members": ()}
        if kind == "server":
            changes["top_channels"] = ()
        return dataclasses.replace(model, **changes)
    if kind == "user":
        return dataclasses.replace(
            model, voice=VoiceBreakdown(), heatmap=np.zeros((7, 24)), top_channels=(), top_emojis=(), rank=None
        )
    if kind == "leaderboard":
        return dataclasses.replace(model, entries=model.entries[:1])
    if kind == "emojis":
        return dataclasses.replace(model, emojis=())
    if kind == "invites":
        return dataclasses.replace(model, inviters=(), vanity_joins=0, unknown_joins=0)
    if kind == "event_hour":
        return dataclasses.replace(model, attendees=(EventAttendee("Solo", np.zeros(60, dtype=bool), 1),))
    if kind == "weekly":
        totals = tuple(WeeklyTotal(t.name, 0, 0) for t in model.totals)
        return dataclasses.replace(model, totals=totals, top_messages=(), top_voice=(), attendance=(), never_present=())
    if kind == "mentor":
        return dataclasses.replace(
            model,
            messages=0,
            voice_minutes=0.0,
            heatmap=np.zeros((7, 24)),
            daily_activity=np.zeros(1),
            trend_pct=None,
            engagement=0,
            risk="high",
            last_seen=None,
        )
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_inputs(kind: str) -> None:
    model = _minimal(kind)
    assert decode(render(kind, model)).size == image_size(kind, model)


def test_event_hour_without_attendees() -> None:
    model = dataclasses.replace(samples.event_hour(), attendees=())
    assert decode(render("event_hour", model)).size == image_size("event_hour", model)


def _crowded(kind: str) -> Any:
    """The sample of ``kind`` with 50 members and very long names."""
    model = SAMPLES[kind]()
    members = tuple(RankedItem(f"{LONG} {i}", float(1000 - i), i) for i in range(50))
    if kind == "server":
        return dataclasses.replace(model, guild_name=LONG * 2, top_members=members, top_channels=members)
    if kind == "channel":
        return dataclasses.replace(model, channel_name=LONG, top_members=members)
    if kind == "user":
        emojis = tuple(EmojiUse(e, 10**6, 10**6) for e in ("🧑‍🤝‍🧑", "👍🏽", "<:a_very_long_custom_emoji_name:1>"))
        return dataclasses.replace(model, display_name=LONG, top_channels=members, top_emojis=emojis)
    if kind == "leaderboard":
        return dataclasses.replace(model, entries=members)
    if kind == "emojis":
        return dataclasses.replace(model, member_name=LONG, emojis=model.emojis * 5)
    if kind == "invites":
        return dataclasses.replace(
            model, inviters=tuple(dataclasses.replace(model.inviters[0], name=LONG) for _ in range(50))
        )
    if kind == "event_hour":
        rng = np.random.default_rng(0)
        return dataclasses.replace(
            model,
            event_name=LONG,
            attendees=tuple(EventAttendee(f"{LONG} {i}", rng.random(60) > 0.3, i) for i in range(50)),
            channels=(LONG,) * 3,
        )
    if kind == "weekly":
        return dataclasses.replace(
            model,
            top_messages=members,
            top_voice=members,
            attendance=members,
            never_present=tuple(m.name for m in members),
        )
    if kind == "mentor":
        return dataclasses.replace(model, display_name=LONG, risk_reason=LONG * 4, daily_activity=np.arange(365.0))
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_long_names_and_fifty_members(kind: str) -> None:
    model = _crowded(kind)
    assert decode(render(kind, model)).size == image_size(kind, model)


@pytest.mark.parametrize("days", [1, 7, 30, 90, 365])
def test_server_periods(days: int) -> None:
    model = samples.server(days)
    assert decode(render("server", model)).size == CARD_SIZE


def test_avatar_png_is_used() -> None:
    avatar = io.BytesIO()
    Image.new("RGB", (128, 128), (255, 0, 0)).save(avatar, "PNG")
    model = dataclasses.replace(samples.user(), avatar_png=avatar.getvalue())
    with_avatar = decode(render("user", model))
    without = decode(render("user", samples.user()))
    assert with_avatar.tobytes() != without.tobytes()


def test_broken_avatar_falls_back_to_initials() -> None:
    model = dataclasses.replace(samples.user(), avatar_png=b"not a png")
    assert decode(render("user", model)).size == image_size("user", model)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown report kind"):
        render("nope", samples.server())
