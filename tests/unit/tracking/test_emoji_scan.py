"""Emoji scanning: RGI sequences without FE0F, custom emojis by id."""

from __future__ import annotations

import emoji
from hypothesis import given
from hypothesis import strategies as st

from bot.tracking.emoji_scan import EmojiScanner, reaction_name


def scan(text: str) -> list[str]:
    return EmojiScanner().scan(text)


def test_each_occurrence_counts() -> None:
    assert scan("🎉🎉") == ["🎉", "🎉"]
    assert scan("yay 🎉 and 🎉!") == ["🎉", "🎉"]


def test_zwj_sequence_is_one_emoji() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    assert scan(f"the {family} here") == [family]
    assert scan("🏳️‍🌈") == ["🏳\u200d🌈"]


def test_skin_tones_stay_with_their_base() -> None:
    assert scan("👍🏽👍") == ["👍🏽", "👍"]


def test_fe0f_is_stripped() -> None:
    assert scan("❤️") == ["❤"]
    assert scan("1️⃣ and #️⃣") == ["1⃣", "#⃣"]


def test_flags_and_tag_sequences() -> None:
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert scan(f"🇫🇷{scotland}") == ["🇫🇷", scotland]


def test_text_characters_are_not_emojis() -> None:
    assert scan("© 2026 Example™, café, naïve, 日本語, привет") == []
    assert scan("plain ascii 123 #hash *star*") == []


def test_custom_and_animated_by_raw_form() -> None:
    text = "hi <:party:123456789012345678> and <a:dance:223456789012345678> <:party:123456789012345678>"
    assert scan(text) == [
        "<:party:123456789012345678>",
        "<a:dance:223456789012345678>",
        "<:party:123456789012345678>",
    ]


def test_custom_counted_by_id_under_its_current_name() -> None:
    s = EmojiScanner(lambda eid: ("newname", False) if eid == 123456789012345678 else None)
    assert s.scan("<:oldname:123456789012345678>") == ["<:newname:123456789012345678>"]


def test_unicode_and_custom_together() -> None:
    assert scan("🎉 <:x:123456789012345678> 😀") == ["🎉", "😀", "<:x:123456789012345678>"]


def test_reaction_names() -> None:
    assert reaction_name("❤️", None, False) == "❤"
    assert reaction_name("party", 123456789012345678, False) == "<:party:123456789012345678>"
    assert reaction_name("dance", 223456789012345678, True) == "<a:dance:223456789012345678>"


_RGI = sorted(e for e, d in emoji.EMOJI_DATA.items() if d["status"] == emoji.STATUS["fully_qualified"])


@given(st.lists(st.sampled_from(_RGI), max_size=6), st.lists(st.text(alphabet="ab c.,!é日", max_size=5), max_size=7))
def test_finds_exactly_the_rgi_emojis_mixed_into_text(emojis: list[str], fillers: list[str]) -> None:
    """Whatever text surrounds them, every fully-qualified emoji is found once, FE0F removed."""
    parts: list[str] = []
    for i, e in enumerate(emojis):
        parts.append(fillers[i] if i < len(fillers) else " ")
        parts.append(e)
        parts.append(" ")
    assert EmojiScanner().scan("".join(parts)) == [e.replace("\ufe0f", "") for e in emojis]


def test_scanner_matches_the_library_on_whole_text() -> None:
    """The run pre-filter finds what the library finds on the whole text."""
    text = "ok 👍🏽 fine 1️⃣ #️⃣ 🇫🇷🇩🇪 a👨‍👩‍👧b ❤️❤️ x"
    lib = [m["emoji"].replace("\ufe0f", "") for m in emoji.emoji_list(text)]
    assert scan(text) == lib
