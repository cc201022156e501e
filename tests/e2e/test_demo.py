"""``python -m bot demo``: the whole demo in a subprocess, and the bot's stored figures against the ground truth."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from bot.app import EXTENSIONS
from bot.render.reports import SIZES
from bot.render.theme import CARD_SIZE, CHART_SIZE
from db.migrate import upgrade
from db.tables import emoji_hourly, member_joins, message_hourly, voice_hourly
from demo.community import build_community, ground_truth
from demo.runner import EVENT_NAME, DemoClock, backfill, flush, populate, replay, running_bot
from sandbox import SandboxDiscord
from tests.e2e.conftest import Storage

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Event-hour charts grow one row per member present, leaderboards one per entry; the rest have a fixed size.
GROWING = ("event-report", "scheduled-posts-at-sun", "-top-")
# Production-like variables the demo must ignore: were it to use them, it could not even start.
HOSTILE_ENV = {
    "DATABASE_URL": "postgresql://statsbot:prod-password@127.0.0.1:9/production",
    "REDIS_URL": "redis://:prod-password@127.0.0.1:9/0",
    "DATABASE_READ_URL": "postgresql://statsbot:prod-password@127.0.0.1:9/replica",
}


def run_demo(
    tmp_path: Path, out: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot demo --out OUT ARGS`` in a folder of its own (no .env), within 120 s."""
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--out", str(out), *args],
        cwd=tmp_path,  # no .env here: the demo needs nothing configured
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def figures(out: Path) -> dict[str, object]:
    """Everything a user sees of a demo run: every reply's content and embeds, every file's bytes."""
    seen: dict[str, object] = {}
    for record in sorted(out.glob("[0-9][0-9]-*.json")):
        data = json.loads(record.read_text())
        seen[record.name] = [(m["content"], m["embeds"], [f["alt"] for f in m["files"]]) for m in data["messages"]]
    for other in sorted(out.glob("[0-9][0-9]-*")):
        if other.suffix != ".json":
            seen[other.name] = hashlib.sha256(other.read_bytes()).hexdigest()
    return seen


def reply(out: Path, step: str) -> list[dict[str, Any]]:
    """The messages of the one step whose file name holds ``step`` (``roles-preview``)."""
    (record,) = [p for p in out.glob(f"[0-9][0-9]-{step}*.json")]
    messages: list[dict[str, Any]] = json.loads(record.read_text())["messages"]
    assert messages, step
    return messages


def test_demo_shows_the_product_reproducibly_and_ignores_the_environment(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    done = run_demo(tmp_path, first, "--seed", "5", env=HOSTILE_ENV)
    index_file = first / "index.md"
    shown = index_file.read_text() if index_file.exists() else ""
    problems = [row for row in shown.splitlines() if re.search(r"\| (error|failed)\b", row)]
    assert done.returncode == 0, (problems, done.stderr[-3000:])
    assert "prod-password" not in done.stdout + done.stderr + shown
    assert "demo.sqlite3" in shown and "production" not in shown  # its own database, not the environment's

    # Progress: one total from the first step to the last, ending at N/N; the closing line counts them all.
    bars = re.findall(r"\] (\d+)/(\d+) ", done.stderr)
    assert bars, done.stderr[-2000:]
    totals = {int(t) for _d, t in bars}
    assert len(totals) == 1, totals
    (total,) = totals
    assert [int(d) for d, _t in bars] == list(range(1, total + 1))
    closing = re.search(r"demo finished: (\d+)/(\d+) steps in [0-9.]+ s", done.stdout)
    assert closing is not None, done.stdout
    assert int(closing.group(1)) == int(closing.group(2)) == total

    # The scheduler posted the event-hour report and the weekly summary by itself.
    scheduled = [json.loads(p.read_text()) for p in sorted(first.glob("[0-9][0-9]-scheduled-posts-*.json"))]
    titles = [e.get("title", "") for s in scheduled for m in s["messages"] for e in m["embeds"]]
    assert any(t.startswith(f"{EVENT_NAME} · ") for t in titles), titles  # the event's name, as configured
    assert any(t.startswith("Weekly summary") for t in titles), titles
    assert all(m["reply"] in ("post", "dm") and not m["ephemeral"] for s in scheduled for m in s["messages"])

    # Once the week is over, /config digest and /config nudges turn them on: the bot's loops send the week's
    # digest to every mentor by DM and the due nudges, by themselves (the last scheduler pass).
    digest_dms = [m for m in scheduled[-1]["messages"] if m["reply"] == "dm" and m["embeds"]]
    assert len(digest_dms) == 3, scheduled[-1]  # the community's three mentors
    assert all(m["embeds"][0]["title"].startswith("Mentor digest") for m in digest_dms)
    assert all(int(f["value"]) >= 1 for m in digest_dms for f in m["embeds"][0]["fields"] if f["name"] == "At risk")
    nudges = [m for m in scheduled[-1]["messages"] if m["reply"] == "dm" and not m["embeds"]]
    assert nudges and all("Study Hall" in m["content"] for m in nudges), scheduled[-1]
    settings = reply(first, "config-show")[0]["embeds"][0]["description"]
    assert "Mentor digest: on, by DM to each mentor" in settings and "Nudges: on: " in settings, settings

    # Activity roles on the recorded history: the preview names real members, apply gives them the role.
    added = [
        m["content"] for name in ("roles-add-regular-messages", "roles-add-event-regular") for m in reply(first, name)
    ]
    assert all(re.match(r"Rule #\d+ saved for <@&\d+>", c) for c in added), added
    assert reply(first, "roles-list")[0]["content"].count("\n#") == 1  # two rules, one a line
    preview = reply(first, "roles-preview")[-1]["content"]
    gaining = re.search(r"Would gain it \((\d+)\): ((?:<@\d+> ?)+)", preview)
    assert gaining is not None and int(gaining.group(1)) >= 1, preview
    applied = re.search(r"(\d+) gained it", reply(first, "roles-apply")[-1]["content"])
    assert applied is not None and applied.group(1) == gaining.group(1)
    assert "removed" in reply(first, "roles-remove")[-1]["content"]

    # The member's own commands: a dashboard link (its one-time token not kept), their data as a zip, nudges off.
    link = reply(first, "dashboard")[-1]
    assert link["ephemeral"] and re.search(r"https?://\S+/login/\d+/<one-time token>", link["content"]), link
    (export,) = [f for m in reply(first, "privacy-export") for f in m["files"]]
    with zipfile.ZipFile(first / export["path"]) as archive:
        names = archive.namelist()
        assert "README.txt" in names and any(n.endswith(".csv") for n in names), names
        assert any(len(archive.read(n).splitlines()) > 1 for n in names if n.endswith(".csv"))  # rows, not headers
    assert "never get a nudge" in reply(first, "privacy-nudges-off")[-1]["content"]

    # The watchlist has members at risk (the community has members who went quiet).
    (watchlist,) = [json.loads(p.read_text()) for p in first.glob("[0-9][0-9]-mentor-watchlist-*.json")]
    embed = watchlist["messages"][-1]["embeds"][0]
    at_risk = {f["name"]: f["value"] for f in embed["fields"]}
    assert int(at_risk["At risk"]) >= 1
    assert re.search(r"<@\d+> — (high|medium):", embed.get("description", "")), embed

    # Every synced command ran and answered without an error; every image is a PNG of its size.
    found = re.search(r"Commands found \(synced by the bot\): (.*)", shown)
    assert found is not None
    commands = re.findall(r"`/([a-z -]+)`", found.group(1))
    assert "backfill" in commands
    assert "not in the demo plan" not in shown  # every synced command is in the plan (none merely listed)
    rows = [line for line in shown.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    for command in commands:
        assert any(f"`/{command}" in row for row in rows), command
    pngs = sorted(first.glob("*.png"))
    assert pngs
    for png in pngs:
        with Image.open(png) as image:
            assert image.format == "PNG"
            image.verify()
        with Image.open(png) as image:
            width, height = image.size
        if "-top-" in png.name:  # sized to its rows
            assert width == CHART_SIZE[0], png.name
        elif any(g in png.name for g in GROWING):
            assert width == CHART_SIZE[0] and height >= CHART_SIZE[1], png.name
        else:
            assert width == CARD_SIZE[0] and (width, height) in set(SIZES.values()), png.name
    for record in first.glob("[0-9][0-9]-*.json"):
        data = json.loads(record.read_text())
        assert data["command"] and isinstance(data["messages"], list)
        for message in data["messages"]:
            if message["ephemeral"] and not message["embeds"] and not message["files"]:
                # No step errs (the index has no error row); a confirmation may quote a nudge or list members.
                assert 0 < len(message["content"]) <= 2000, record.name

    # The same seed gives the same figures and images, byte for byte.
    again = run_demo(tmp_path, second, "--seed", "5")
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = figures(first), figures(second)
    assert a.keys() == b.keys()
    assert [name for name in a if a[name] != b[name]] == []


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
