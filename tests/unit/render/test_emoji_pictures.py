"""Emojis drawn in colour from the colour emoji font, custom emojis from their images; names when neither can be."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
from PIL import Image

from bot.render import samples
from bot.render import theme as th
from bot.render.models import EmojiUse
from tests.unit.render.textboxes import drawn

needs_font = pytest.mark.skipif(th.emoji_font() is None, reason="no colour emoji font on this host")


@needs_font
def test_unicode_emojis_are_colour_glyphs() -> None:
    image = th.emoji_image("😂", 28)
    assert image is not None and image.size == (28, 28)
    pixels = np.asarray(image.convert("RGBA"), dtype=np.int16)
    opaque = pixels[pixels[..., 3] > 200][:, :3]
    # Colour, not a grey text glyph: the face is yellow (red and green well above blue).
    assert opaque.size and (opaque[:, 0] - opaque[:, 2]).mean() > 60
    assert th.emoji_image("👩\u200d💻", 28) is not None  # a ZWJ sequence is one glyph
    assert th.emoji_image("<:pepe:123>", 28) is None and th.emoji_image("abc", 28) is None


@needs_font
def test_the_emoji_report_draws_glyphs_and_images_not_names(monkeypatch: pytest.MonkeyPatch) -> None:
    model = samples.emojis()
    texts = [t.text for t in drawn(monkeypatch, "emojis", model).texts]
    for use in model.emojis:
        if use.emoji.startswith("<"):
            assert th.emoji_name(use.emoji) in texts  # custom: its image and its :name:
        else:
            assert th.emoji_name(use.emoji) not in texts  # unicode: the glyph, never the English name


def test_without_a_colour_font_images_show_names_and_the_log_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    th.emoji_font.cache_clear()
    th.emoji_image.cache_clear()
    monkeypatch.setattr(th, "EMOJI_FONT_PATHS", ("/nonexistent/NotoColorEmoji.ttf",))
    try:
        with caplog.at_level(logging.WARNING, logger="bot.render.theme"):
            model = samples.emojis()
            texts = [t.text for t in drawn(monkeypatch, "emojis", model).texts]
            drawn(monkeypatch, "emojis", model)
        assert "face with tears of joy" in texts
        warnings = [r for r in caplog.records if "colour emoji font" in r.getMessage()]
        assert len(warnings) == 1 and "fonts-noto-color-emoji" in warnings[0].getMessage()
    finally:
        th.emoji_font.cache_clear()
        th.emoji_image.cache_clear()


def test_a_custom_emoji_without_an_image_falls_back_to_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    model = samples.emojis()
    lost = tuple(dataclasses.replace(u, image_png=None) for u in model.emojis)
    texts = [t.text for t in drawn(monkeypatch, "emojis", dataclasses.replace(model, emojis=lost)).texts]
    assert ":pepe_cry:" in texts and ":party_blob:" in texts


def test_an_unreadable_picture_is_no_picture() -> None:
    assert th.picture(b"not an image", 32) is None
    good = th.picture(samples.sample_png(3), 32)
    assert isinstance(good, Image.Image) and good.size == (32, 32)
    assert EmojiUse("🎉", 1, 0).image_png is None
