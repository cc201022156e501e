"""A member who left is shown by the last name the bot saw, "(left)", never by an id; erased on opt-out delete."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from db import tables as t
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import flush, live_bot

pytestmark = pytest.mark.integration

SNOWFLAKE = re.compile(r"\d{15,21}")


def without_mentions(text: str) -> str:
    """The text minus ``<@id>`` mentions (the leaderboard embed's contract format)."""
    return re.sub(r"<@\d+>", "", text)


async def test_a_member_who_left_keeps_their_last_name_in_every_report(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Leavers Guild")
        general = sb.add_channel(guild, "general")
        ana = sb.add_member(guild, "ana", nick="Ana Banana")
        bob = sb.add_member(guild, "bob")
        async with live_bot(backend, sb) as bot:
            for _ in range(3):
                await sb.send_message(general, ana, "hello there")
            await sb.send_message(general, bob, "hi")
            await sb.member_leave(guild, ana)
            await sb.barrier()
            await flush(bot)
            top = await (await sb.invoke(guild, general, bob, "top", {"metric": "messages"})).final(timeout=30)
            server = await (await sb.invoke(guild, general, bob, "stats server", {})).final(timeout=30)
            for reply in (top, server):
                alt = reply.files[0].description or ""
                assert "Ana Banana (left)" in alt, alt
                assert not SNOWFLAKE.search(alt), alt
            # The embed names members by mention (the contract's leaderboard format), never by a bare id.
            assert f"<@{ana.user.id}>" in top.embeds[0]["description"]
            assert not SNOWFLAKE.search(without_mentions(top.embeds[0]["description"]))
            # Opting out with delete erases the stored name with the member's other rows.
            gone = await (await sb.invoke(guild, general, bob, "privacy optout", {"mode": "delete"})).final(timeout=30)
            assert gone.ephemeral
    async with backend.engine.connect() as conn:
        names = dict((await conn.execute(sa.select(t.member_names.c.user_id, t.member_names.c.name))).all())
    assert names.get(ana.user.id) == "Ana Banana"
    assert bob.user.id not in names
