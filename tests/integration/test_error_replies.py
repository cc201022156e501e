"""Errors after a public deferral end up ephemeral: the public "thinking…" placeholder is deleted first.

The first follow-up of a deferral takes the deferral's visibility, so an error sent
"ephemerally" after a public ``defer`` would be shown to the whole channel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from db.series import MESSAGES, CounterKey
from sandbox import SandboxDiscord
from tests.conftest import Backend
from tests.support.live import counted_and_flushed, live_bot

pytestmark = pytest.mark.integration


async def test_a_render_failure_after_a_public_defer_is_answered_ephemerally(backend: Backend) -> None:
    async with SandboxDiscord() as sb:
        guild = sb.add_guild("Failing Guild")
        general = sb.add_channel(guild, "general")
        alice = sb.add_member(guild, "alice")
        now = datetime.now(UTC)
        hour = int(now.timestamp()) // 3600 * 3600 - 3600
        increments: list[tuple[CounterKey, int]] = [
            ((MESSAGES.code, guild.id, hour, general.id, alice.user.id, "messages"), 5)
        ]
        await counted_and_flushed(backend, now.timestamp(), increments)
        async with live_bot(backend, sb) as bot:
            ok = await (await sb.invoke(guild, general, alice, "stats server", {"period": "7d"})).final(timeout=30)
            assert not ok.ephemeral and ok.embeds  # the report itself stays public

            async def broken(kind: str, model: Any, *, theme: str = "dark") -> bytes:
                raise RuntimeError("render worker died")

            bot.render_pool.render = broken  # type: ignore[method-assign]
            seen = len(sb.requests)
            result = await sb.invoke(guild, general, alice, "stats server", {"period": "7d"})
            reply = await result.final(timeout=30)
            assert result.deferred and not result.deferred_ephemeral  # deferred publicly, as reports are
            assert reply.ephemeral and not reply.embeds and not reply.files
            assert len(reply.content) <= 200 and "went wrong" in reply.content
            deletes = [r for r in sb.requests[seen:] if r.method == "DELETE" and r.path.endswith("/@original")]
            assert len(deletes) == 1  # the public placeholder is gone
            visible = [m for m in sb.world.channel_messages(general.id).values() if "went wrong" in str(m.payload)]
            assert visible == []
