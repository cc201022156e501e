"""GUILD_PURGE_DAYS: the grace period before a removed guild's data is deleted (0 keeps it forever)."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError, load_settings


def test_default_is_thirty_days_and_zero_means_never() -> None:
    assert load_settings(GUILD_PURGE_DAYS=30).GUILD_PURGE_DAYS == 30
    assert Settings.model_fields["GUILD_PURGE_DAYS"].default == 30
    assert load_settings(GUILD_PURGE_DAYS="0").GUILD_PURGE_DAYS == 0


@pytest.mark.parametrize("bad", ["-1", "soon", "36501"])
def test_a_bad_value_is_one_line_naming_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match=r"^GUILD_PURGE_DAYS: "):
        load_settings(GUILD_PURGE_DAYS=bad)
