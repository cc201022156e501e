"""The sandbox's pure parts: snowflakes, history pages, permissions."""

from __future__ import annotations

import datetime as dt

import discord
from hypothesis import given
from hypothesis import strategies as st

from sandbox import SandboxGuild, SandboxMember, SandboxRole, SandboxUser, StoredMessage, snowflake_at
from sandbox.rest import history_page
from sandbox.state import ALL_PERMISSIONS, SnowflakeMinter

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_snowflakes_carry_their_time_and_are_unique() -> None:
    minter = SnowflakeMinter()
    when = dt.datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
    ids = {minter.at(when) for _ in range(1000)}
    assert len(ids) == 1000
    assert {discord.utils.snowflake_time(i) for i in ids} == {when}
    assert discord.utils.snowflake_time(snowflake_at(when)) == when
    now = [minter.now() for _ in range(100)]
    assert now == sorted(now) and len(set(now)) == 100


def _messages(count: int) -> dict[int, StoredMessage]:
    ids = [snowflake_at(START + dt.timedelta(minutes=i)) for i in range(count)]
    return {i: StoredMessage({"id": str(i), "channel_id": "1"}) for i in ids}


@given(
    count=st.integers(0, 60),
    limit=st.integers(1, 100),
    anchor=st.integers(-1, 61),
    mode=st.sampled_from(["before", "after", "around", None]),
)
def test_history_pages_are_newest_first(count: int, limit: int, anchor: int, mode: str | None) -> None:
    messages = _messages(count)
    ids = sorted(messages)
    pivot = snowflake_at(START + dt.timedelta(minutes=anchor)) if anchor >= 0 else 0
    query = {"limit": str(limit)} | ({mode: str(pivot)} if mode else {})
    page = [m.id for m in history_page(messages, query)]
    assert page == sorted(page, reverse=True) and len(page) <= limit
    if mode == "before":
        assert page == sorted((i for i in ids if i < pivot), reverse=True)[:limit]
    elif mode == "after":
        assert page == sorted(i for i in ids if i > pivot)[:limit][::-1]
    elif mode is None:
        assert page == ids[::-1][:limit]


def test_permissions_follow_roles_owner_and_administrator() -> None:
    owner, member, admin = SandboxUser(1, "o"), SandboxUser(2, "m"), SandboxUser(3, "a")
    guild = SandboxGuild(100, "g", owner.id)
    guild.roles[100] = SandboxRole(100, "@everyone", permissions=discord.Permissions(view_channel=True).value)
    guild.roles[5] = SandboxRole(5, "mods", permissions=discord.Permissions(manage_guild=True).value)
    guild.roles[6] = SandboxRole(6, "admins", permissions=discord.Permissions(administrator=True).value)
    guild.members = {u.id: SandboxMember(u) for u in (owner, member, admin)}
    guild.members[member.id].role_ids = [5]
    guild.members[admin.id].role_ids = [6]
    assert guild.permissions_of(owner.id) == ALL_PERMISSIONS
    assert discord.Permissions(guild.permissions_of(member.id)) == discord.Permissions(
        view_channel=True, manage_guild=True
    )
    assert guild.permissions_of(admin.id) == ALL_PERMISSIONS
    assert guild.shard_id(2) == (100 >> 22) % 2
