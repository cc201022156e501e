"""/stats server, user and channel show the change against the previous period; /stats server the member growth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db.series import MESSAGES, CounterKey
from sandbox import SandboxDiscord
from sandbox.interactions import InteractionReply
from tests.conftest import Backend
from tests.support.live import counted_and_flushed, flush, live_bot

pytestmark = pytest.mark.integration


def fields(reply: InteractionReply) -> dict[str, str]:
    return {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}


async def test_stats_compare_with_the_previous_period_and_count_joins_and_leaves(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Delta Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        bob = sb.add_member(guild, "bob")
        now = datetime.now(UTC)
        hour = int(now.timestamp()) // 3600 * 3600 - 3600
        earlier = int((datetime.fromtimestamp(hour, UTC) - timedelta(days=7)).timestamp())
        increments: list[tuple[CounterKey, int]] = [
            ((MESSAGES.code, guild.id, hour, general.id, alice.user.id, "messages"), 10),
            ((MESSAGES.code, guild.id, earlier, general.id, alice.user.id, "messages"), 8),
            ((MESSAGES.code, guild.id, earlier, general.id, bob.user.id, "messages"), 2),
        ]
        await counted_and_flushed(backend, now.timestamp(), increments)
        async with live_bot(backend, sb) as bot:
            newcomer = sb.add_user("newcomer")
            await sb.member_join(guild, newcomer)
            await sb.member_leave(guild, bob)
            await sb.barrier()
            await flush(bot)
            server = await (await sb.invoke(guild, general, alice, "stats server", {"period": "7d"})).final(timeout=30)
            user = await (
                await sb.invoke(guild, general, alice, "stats user", {"member": alice, "period": "7d"})
            ).final(timeout=30)
            channel = await (
                await sb.invoke(guild, general, alice, "stats channel", {"channel": general, "period": "7d"})
            ).final(timeout=30)
            everything = await (await sb.invoke(guild, general, alice, "stats server", {"period": "all"})).final(
                timeout=30
            )

    got = fields(server)
    assert (got["Messages"], got["Active members"]) == ("10", "1")
    assert (got["Joins"], got["Leaves"], got["Net members"]) == ("1", "1", "0")
    description = server.embeds[0]["description"]
    # 10 messages against 10 (8 + 2) the 7 days before; 1 active member against 2.
    assert "Messages: no change vs previous 7 days" in description
    assert "Active members: -50 % vs previous 7 days" in description
    alt = server.files[0].description or ""
    assert "Change: Messages no change vs previous 7 days (10 against 10)" in alt
    assert "Active members -50 % vs previous 7 days (1 against 2)" in alt
    assert "Members: 1 joined, 1 left, net 0." in alt
    # Alice alone: 10 against 8.
    assert "Messages: +25 % vs previous 7 days" in user.embeds[0]["description"]
    assert "Messages +25 % vs previous 7 days (10 against 8)" in (user.files[0].description or "")
    assert "Messages: no change vs previous 7 days" in channel.embeds[0]["description"]
    # "all" has no period before it: no comparison anywhere.
    assert "vs previous" not in str(everything.embeds[0]) and "Change:" not in (everything.files[0].description or "")
