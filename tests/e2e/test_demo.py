"""``python -m bot demo``: the whole demo in a subprocess, and the bot's stored figures against the ground truth."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from bot.app import EXTENSIONS
from bot.render.theme import CARD_SIZE, CHART_SIZE
from db.migrate import upgrade
from db.tables import emoji_hourly, member_joins, message_hourly, voice_hourly
from demo.community import build_community, ground_truth
from demo.runner import DemoClock, backfill, flush, populate, replay, running_bot
from sandbox import SandboxDiscord
from tests.e2e.conftest import Storage

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Event-hour charts grow one row per member present; every other image has a fixed size.
GROWING = ("event-report", "scheduled-events")


def test_demo_command_writes_every_reply(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--out", str(out)],
        cwd=tmp_path,  # no .env here: the demo needs nothing configured
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    index_file = out / "index.md"
    shown = index_file.read_text() if index_file.exists() else ""
    problems = [row for row in shown.splitlines() if re.search(r"\| (error|failed)\b", row)]
    assert done.returncode == 0, (problems, done.stderr[-3000:])
    assert "demo finished" in done.stdout
    assert "[" in done.stderr and "index written" in done.stderr  # the progress bar
    index = shown
    found = re.search(r"Commands found \(synced by the bot\): (.*)", index)
    assert found is not None
    commands = re.findall(r"`/([a-z -]+)`", found.group(1))
    assert "backfill" in commands
    rows = [line for line in index.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    for command in commands:
        assert any(f"`/{command}" in row for row in rows), command
    assert not any(re.search(r"\| (error|failed)\b", row) for row in rows), index
    pngs = sorted(out.glob("*.png"))
    assert pngs
    for png in pngs:
        with Image.open(png) as image:
            assert image.format == "PNG"
            image.verify()
        with Image.open(png) as image:
            width, height = image.size
        if any(g in png.name for g in GROWING):
            assert width == CHART_SIZE[0] and height >= CHART_SIZE[1], png.name
        else:
            assert (width, height) in (CHART_SIZE, CARD_SIZE), png.name
    for record in out.glob("[0-9][0-9]-*.json"):
        data = json.loads(record.read_text())
        assert data["command"] and isinstance(data["messages"], list)
        for message in data["messages"]:
            if message["ephemeral"] and not message["embeds"] and not message["files"]:
                assert len(message["content"]) <= 200


def hour_of_csv(cell: str) -> int:
    """Epoch seconds of an exported ``hour_utc`` cell (``2026-11-22T16:00:00+00:00``)."""
    return int(datetime.fromisoformat(cell).timestamp())


async def test_stored_figures_equal_the_ground_truth(storage: Storage) -> None:
    """The demo's own steps (populate, backfill, replay) against its bot: stored figures equal the truth.

    Runs on the e2e storage (a database of its own), as other suites truncate the shared test database.
    """
    await upgrade(storage.engine)
    anchor = datetime.fromtimestamp((int(datetime.now(UTC).timestamp()) // 3600 - 4) * 3600, UTC)
    community = build_community(11, anchor)
    truth = ground_truth(community)
    clock = DemoClock()
    clock.set(community.anchor)
    async with SandboxDiscord() as sb:
        world = populate(sb, community)
        async with running_bot(sb, storage.database_url, storage.redis_url, clock, EXTENSIONS) as bot:
            reply = await backfill(sb, world, community.with_role("Admin")[0])
            assert "finished" in reply.content
            await replay(sb, world, community, clock)
            await flush(bot)
            # What a user sees: the /export CSV and the /stats server embed, not just the tables.
            admin = world.users[community.with_role("Admin")[0]]
            general = world.channels["general"]
            export = await (
                await sb.invoke(world.guild, general, admin, "export", {"dataset": "messages", "period": "all"})
            ).final()
            stats = await (await sb.invoke(world.guild, general, admin, "stats server", {"period": "all"})).final()
    users, channels = world.key_of_user(), world.key_of_channel()
    csv_rows = list(csv.DictReader(io.StringIO(export.files[0].data.decode("utf-8"))))
    exported = {
        (
            channels[int(r["channel_id"])],
            users[int(r["user_id"])],
            int(datetime.fromisoformat(r["hour_utc"]).timestamp()),
        ): (
            int(r["messages"]),
            int(r["characters"]),
            int(r["attachments"]),
            int(r["replies"]),
        )
        for r in csv_rows
    }
    fields = {f["name"]: f["value"] for f in stats.embeds[0]["fields"]}
    guild = world.guild.id
    async with storage.engine.connect() as conn:
        msg_rows = (await conn.execute(sa.select(message_hourly).where(message_hourly.c.guild_id == guild))).all()
        voice_rows = (await conn.execute(sa.select(voice_hourly).where(voice_hourly.c.guild_id == guild))).all()
        emoji_rows = (await conn.execute(sa.select(emoji_hourly).where(emoji_hourly.c.guild_id == guild))).all()
        join_rows = (await conn.execute(sa.select(member_joins).where(member_joins.c.guild_id == guild))).all()

    stored_messages = {
        (channels[r.channel_id], users[r.user_id], int(r.hour.timestamp())): (
            r.messages,
            r.characters,
            r.attachments,
            r.replies,
        )
        for r in msg_rows
        if r.messages or r.characters or r.attachments or r.replies
    }
    expected_messages = {k: (t.messages, t.characters, t.attachments, t.replies) for k, t in truth.messages.items()}
    assert stored_messages == expected_messages
    assert exported == expected_messages
    assert int(fields["Messages"].replace(",", "")) == sum(t.messages for t in truth.messages.values())

    stored_voice: dict[tuple[str, str, int], Counter[str]] = {}
    for r in voice_rows:
        buckets = Counter(
            {b: getattr(r, b) for b in ("active_s", "muted_s", "deafened_s", "alone_s", "streaming_s", "video_s")}
        )
        buckets = +buckets  # drop zeros
        if buckets:
            stored_voice[(channels[r.channel_id], users[r.user_id], int(r.hour.timestamp()))] = buckets
    assert stored_voice == truth.voice

    stored_emojis: Counter[tuple[str, str, str]] = Counter()
    for r in emoji_rows:
        stored_emojis[(users[r.user_id], r.emoji, r.kind)] += r._mapping["count"]
    assert +stored_emojis == truth.emojis

    joins = {users[r.user_id]: r.invite_code for r in join_rows}
    assert joins == truth.joins  # the used-up invite (max uses 1) included
    left = {users[r.user_id]: int(r.left_at.timestamp()) for r in join_rows if r.left_at is not None}
    assert left == {e.user: e.at for e in community.live if e.kind == "leave" and e.user in truth.joins}
