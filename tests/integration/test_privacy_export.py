"""/privacy export through the real bot, on both backends: the zip holds exactly the member's rows.

Two members are active in two guilds (messages with emojis, voice, a join through the other's
invite); the export of one member in one guild must hold every row the database has about that
member there, and nothing of the other member or of the other guild.
"""

from __future__ import annotations

import csv
import io
import zipfile

import discord
import pytest
import sqlalchemy as sa

from cogs import TRACKING_EXTENSIONS
from db.export import member_tables
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import flush, live_bot

pytestmark = pytest.mark.integration

EXTENSIONS = (*TRACKING_EXTENSIONS, "cogs.privacy")


async def stored_rows(backend: Backend, guild_id: int, user_id: int) -> dict[str, int]:
    """Rows the database has about the member in the guild, by table (as member_tables finds them)."""
    counts: dict[str, int] = {}
    async with backend.engine.connect() as conn:
        for table, column in member_tables():
            counts[table.name] = int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.guild_id == guild_id, table.c[column] == user_id)
                )
                or 0
            )
    return counts


async def test_privacy_export_holds_exactly_the_members_rows(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Export Guild")
        other = sb.add_guild("Other Guild")
        general = sb.add_channel(guild, "general")
        elsewhere = sb.add_channel(other, "general")
        room = sb.add_channel(guild, "Room", kind=discord.ChannelType.voice)
        alice = sb.add_member(guild, "alice")
        bob = sb.add_member(guild, "bob")
        sb.add_member(other, alice.user)
        sb.add_invite(guild, general, alice.user, code="alicecode")
        async with live_bot(backend, sb, extensions=EXTENSIONS) as bot:
            carol = sb.add_user("carol")
            await sb.member_join(guild, carol, invite="alicecode")  # a join through alice's invite: carol's row
            for i in range(3):
                await sb.send_message(general, alice.user, f"hello {i} 🎉")
            await sb.send_message(general, bob.user, "hi 👍")
            await sb.send_message(elsewhere, alice.user, "other guild")
            await sb.voice_update(guild, alice.user, room)
            await sb.voice_update(guild, bob.user, room)
            await sb.barrier()
            await sb.voice_update(guild, alice.user, None)
            await sb.voice_update(guild, bob.user, None)
            await sb.barrier()
            await flush(bot)
            reply = await (await sb.invoke(guild, general, alice.user, "privacy export", {})).final()
            expected = await stored_rows(backend, guild.id, alice.user.id)
    assert reply.ephemeral and len(reply.files) == 1 and reply.files[0].filename.endswith(".zip")
    assert "rows in" in reply.content and len(reply.content) <= 200
    archive = zipfile.ZipFile(io.BytesIO(reply.files[0].data))
    names = set(archive.namelist())
    assert names == {"README.txt"} | {f"{name}.csv" for name in expected}
    got: dict[str, list[dict[str, str]]] = {}
    for name in sorted(names - {"README.txt"}):
        got[name.removesuffix(".csv")] = list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
    assert {name: len(rows) for name, rows in got.items()} == expected
    assert sum(int(r["messages"]) for r in got["message_hourly"]) == 3  # this guild only
    assert got["invites"] and all(r["inviter_id"] == str(alice.user.id) for r in got["invites"])
    assert expected["voice_sessions"] >= 1 and expected["emoji_hourly"] >= 1
    alice_id, others = str(alice.user.id), {str(bob.user.id), str(carol.id), str(other.id)}
    for name, rows in got.items():
        for row in rows:
            assert row["guild_id"] == str(guild.id), name
            assert row.get("user_id", alice_id) == alice_id, name
            assert not others & set(row.values()), (name, row)  # nobody else's id, no other guild
