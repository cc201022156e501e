"""The visual language of every report image: colours, fonts, sizes and text helpers.

All text is drawn with the DejaVu fonts that ship with matplotlib, through Pillow's
basic layout engine, so that an image looks the same (byte for byte) on every host.
Unicode emojis are drawn in colour from a colour emoji font (Debian's
``fonts-noto-color-emoji``) through Pillow's embedded colour support; on a host
without one the bot says so once in its log and images show the emojis' names.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import emoji as emoji_lib
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from matplotlib.ft2font import FT2Font

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]

# Discord shows an attached image about 400 px wide (desktop chat column and phones), so
# every image is drawn 800 px wide and every text is at least 22 px: 11 px at 400 px.
# Cards stack their panels vertically, one or two columns, rather than shrinking type.
CANVAS_W: Final = 800
DISPLAY_W: Final = 400  # the width Discord shows an attachment at
MIN_DISPLAY_PX: Final = 11  # the smallest text height at DISPLAY_W
CHART_SIZE: Final = (CANVAS_W, 660)
CARD_SIZE: Final = (CANVAS_W, 1066)  # the server and channel cards (bot.render.charts.SERVER_SIZE)
EVENT_HOUR_WIDTH: Final = CANVAS_W
PNG_COMPRESS_LEVEL: Final = 3  # zlib level: 1–3 cost the same here, 3 is smaller

# Type sizes in pixels; SMALL_PX is the floor: 22 / 800 × 400 = 11 px where Discord shows it.
TITLE_PX: Final = 36
SUBTITLE_PX: Final = 22
HEADING_PX: Final = 26
BODY_PX: Final = 24
SMALL_PX: Final = 22
FIGURE_PX: Final = 44

MARGIN: Final = 20
HEADER_H: Final = 100


@dataclass(frozen=True, slots=True)
class Theme:
    """A colour palette; ``DARK`` matches Discord's dark theme, ``LIGHT`` its light one."""

    name: str
    background: RGB
    surface: RGB
    surface_alt: RGB
    grid: RGB
    text: RGB
    text_muted: RGB
    text_dim: RGB
    accent: RGB
    messages: RGB
    voice: RGB
    good: RGB
    warn: RGB
    bad: RGB
    muted_voice: RGB
    deafened: RGB
    alone: RGB
    streaming: RGB
    video: RGB
    reaction: RGB
    heat_low: RGB
    heat_high: RGB


DARK: Final = Theme(
    name="dark",
    background=(49, 51, 56),
    surface=(43, 45, 49),
    surface_alt=(30, 31, 34),
    grid=(63, 65, 71),
    text=(242, 243, 245),
    text_muted=(181, 186, 193),
    text_dim=(148, 155, 164),
    accent=(88, 101, 242),
    messages=(88, 101, 242),
    voice=(35, 165, 90),
    good=(35, 165, 90),
    warn=(240, 178, 50),
    bad=(242, 63, 67),
    muted_voice=(240, 178, 50),
    deafened=(242, 63, 67),
    alone=(128, 132, 142),
    streaming=(155, 89, 182),
    video=(26, 188, 156),
    reaction=(235, 69, 158),
    heat_low=(56, 58, 64),
    heat_high=(201, 205, 255),
)

LIGHT: Final = Theme(
    name="light",
    background=(255, 255, 255),
    surface=(242, 243, 245),
    surface_alt=(227, 229, 232),
    grid=(218, 220, 224),
    text=(6, 6, 7),
    text_muted=(78, 80, 88),
    text_dim=(92, 94, 102),
    accent=(88, 101, 242),
    messages=(88, 101, 242),
    voice=(36, 128, 70),
    good=(36, 128, 70),
    warn=(196, 125, 10),
    bad=(218, 55, 60),
    muted_voice=(196, 125, 10),
    deafened=(218, 55, 60),
    alone=(116, 127, 141),
    streaming=(136, 72, 165),
    video=(17, 148, 122),
    reaction=(200, 40, 120),
    heat_low=(232, 234, 237),
    heat_high=(40, 46, 130),
)

THEMES: Final = {DARK.name: DARK, LIGHT.name: LIGHT}

# Colours for placeholder avatars: Discord's brand and role colours.
AVATAR_COLOURS: Final = (
    (88, 101, 242),
    (35, 165, 90),
    (240, 178, 50),
    (242, 63, 67),
    (235, 69, 158),
    (26, 188, 156),
    (52, 152, 219),
    (155, 89, 182),
    (230, 126, 34),
    (96, 125, 139),
)


def _matplotlib_fonts() -> Path:
    """The directory of the DejaVu fonts bundled with matplotlib, found without importing it."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed; its bundled DejaVu fonts are needed")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


_FONT_DIR: Final = _matplotlib_fonts()
_FONT_FILES: Final = {
    "regular": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
}
_CUSTOM_EMOJI: Final = re.compile(r"<a?:([A-Za-z0-9_~]+):\d+>")
ELLIPSIS: Final = "…"


@functools.cache
def font(size: int, weight: str = "regular") -> ImageFont.FreeTypeFont:
    """A DejaVu font of ``size`` pixels (``regular``, ``bold`` or ``mono``), cached per process."""
    return ImageFont.truetype(str(_FONT_DIR / _FONT_FILES[weight]), size, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _glyph_face() -> FT2Font:
    """The DejaVu Sans face used to ask whether a code point has a glyph."""
    from matplotlib.ft2font import FT2Font

    return FT2Font(str(_FONT_DIR / _FONT_FILES["regular"]))


@functools.cache
def has_glyph(char: str) -> bool:
    """Whether DejaVu Sans can draw ``char`` (a single code point) without a tofu box."""
    if unicodedata.category(char) in ("Mn", "Me", "Cf") or char == "\ufe0f":
        return True
    face = _glyph_face()
    return bool(face.get_char_index(ord(char)))


def text_width(text: str, fnt: ImageFont.FreeTypeFont) -> int:
    """The advance width of ``text`` in pixels."""
    return round(fnt.getlength(text))


def fit_text(text: str, fnt: ImageFont.FreeTypeFont, max_width: int) -> str:
    """``text`` shortened with an ellipsis so that it fits ``max_width`` pixels."""
    if fnt.getlength(text) <= max_width:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if fnt.getlength(text[:mid].rstrip() + ELLIPSIS) <= max_width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ELLIPSIS if low else ELLIPSIS


def emoji_name(token: str) -> str:
    """The readable name of an emoji: ``:name:`` of a custom one, the CLDR short name of a unicode one."""
    custom = _CUSTOM_EMOJI.fullmatch(token)
    if custom:
        return f":{custom.group(1)}:"
    name = emoji_lib.demojize(token, delimiters=("", ""))
    if name == token:
        return token
    return name.replace("_", " ")


def emoji_glyph(token: str) -> str:
    """The emoji's glyph when DejaVu can draw it (single code point emojis only), else ``""``."""
    if _CUSTOM_EMOJI.fullmatch(token):
        return ""
    glyph = token.replace("\ufe0f", "")
    return glyph if len(glyph) == 1 and has_glyph(glyph) else ""


# Where colour emoji fonts live: Debian's fonts-noto-color-emoji, other distributions, macOS.
EMOJI_FONT_PATHS: Final = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto-emoji/NotoColorEmoji.ttf",
    "/System/Library/Fonts/Apple Color Emoji.ttc",
)
EMOJI_BITMAP_PX: Final = 109  # Noto Color Emoji's bitmaps come in this one size (CBDT)


@functools.cache
def emoji_font() -> ImageFont.FreeTypeFont | None:
    """The colour emoji font, or None (said once in the log: images then show emoji names)."""
    for path in EMOJI_FONT_PATHS:
        if Path(path).is_file():
            try:
                return ImageFont.truetype(path, EMOJI_BITMAP_PX)
            except OSError:
                log.warning("could not load the colour emoji font %s", path, exc_info=True)
    log.warning(
        "no colour emoji font found (on Debian: apt-get install fonts-noto-color-emoji); "
        "report images show emoji names instead of emojis"
    )
    return None


def _fitted(image: Image.Image, size: int) -> Image.Image:
    """``image`` cropped to its ink and scaled to fit a ``size`` px square, centred on a transparent square."""
    box = image.getbbox()
    if box is None:
        return Image.new("RGBA", (size, size))
    ink = image.crop(box)
    scale = size / max(ink.width, ink.height)
    w, h = max(1, round(ink.width * scale)), max(1, round(ink.height * scale))
    out = Image.new("RGBA", (size, size))
    out.paste(ink.resize((w, h), Image.Resampling.LANCZOS), ((size - w) // 2, (size - h) // 2))
    return out


@functools.lru_cache(maxsize=512)
def emoji_image(token: str, size: int) -> Image.Image | None:
    """A unicode emoji in colour as a ``size`` px RGBA square; None for custom emojis, no font or no glyph."""
    if _CUSTOM_EMOJI.fullmatch(token) or not emoji_lib.is_emoji(token):
        return None
    fnt = emoji_font()
    if fnt is None:
        return None
    canvas = Image.new("RGBA", (EMOJI_BITMAP_PX * 2, EMOJI_BITMAP_PX * 2))
    ImageDraw.Draw(canvas).text((EMOJI_BITMAP_PX // 4, EMOJI_BITMAP_PX // 4), token, font=fnt, embedded_color=True)
    if canvas.getbbox() is None:
        return None
    return _fitted(canvas, size)


@functools.lru_cache(maxsize=256)
def picture(png: bytes, size: int) -> Image.Image | None:
    """A custom emoji's (or any) PNG/GIF/WebP image as a ``size`` px RGBA square; None when it does not decode."""
    try:
        with Image.open(io.BytesIO(png)) as source:
            source.seek(0)  # the first frame of an animated emoji
            image = source.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return _fitted(image, size)


def emoji_drawn(token: str) -> bool:
    """Whether images draw this unicode emoji as a colour glyph (so that its name need not be written)."""
    return emoji_image(token, 32) is not None


def emoji_label(token: str) -> str:
    """How an emoji is written in one line of text: its glyph when DejaVu has it, then its name."""
    name = emoji_name(token)
    glyph = emoji_glyph(token)
    if glyph:
        return f"{glyph}  {name}" if name != token else glyph
    return name


def drawable(text: str) -> str:
    """``text`` without the code points DejaVu has no glyph for (emoji glyphs it has are kept)."""
    if text.isascii():
        return text
    return "".join(c for c in text if has_glyph(c))


def safe_text(text: str, fallback: str = "?") -> str:
    """``text`` with emojis and code points DejaVu cannot draw removed (never a tofu box)."""
    text = _CUSTOM_EMOJI.sub(lambda m: f":{m.group(1)}:", text)
    text = emoji_lib.replace_emoji(text, replace="")
    kept = "".join(c for c in text if c.isprintable() and has_glyph(c))
    kept = " ".join(kept.split())
    return kept or fallback


def user_colour(user_id: int) -> RGB:
    """A stable colour for a member's placeholder avatar, derived from the user id."""
    digest = hashlib.blake2b(str(user_id).encode(), digest_size=2).digest()
    return AVATAR_COLOURS[int.from_bytes(digest, "big") % len(AVATAR_COLOURS)]


def initials(name: str) -> str:
    """One or two letters standing for ``name`` on a placeholder avatar."""
    words = [w for w in re.split(r"[\s_.\-]+", safe_text(name, "")) if w]
    letters = [w[0] for w in words if w[0].isalnum()]
    if not letters:
        return "?"
    if len(letters) == 1:
        word = words[0]
        return (word[:2] if len(word) > 1 and word[1].isalnum() else word[0]).upper()
    return (letters[0] + letters[1]).upper()


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """The colour ``t`` of the way from ``a`` to ``b``."""
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def hex_colour(colour: RGB) -> str:
    """``colour`` as ``#rrggbb`` for matplotlib."""
    return "#{:02x}{:02x}{:02x}".format(*colour)


def fmt_int(value: float) -> str:
    """A count with thousands separators: ``12,345``."""
    return f"{round(value):,}"


def fmt_compact(value: float) -> str:
    """A count written short for axes: ``950``, ``12.3k``, ``4.1M``."""
    magnitude = abs(value)
    if magnitude >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if magnitude and magnitude < 10 and value != int(value):
        return f"{value:.1f}"
    return f"{round(value)}"


def fmt_minutes(minutes: float) -> str:
    """Voice time written for people: ``45 min``, ``3 h 05 min``."""
    total = round(minutes)
    if total < 60:
        return f"{total} min"
    if total % 60 == 0:
        return f"{total // 60:,} h"
    return f"{total // 60:,} h {total % 60:02d} min"
