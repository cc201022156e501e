"""The dashboard's Events page on both backends: occurrences judged by the event configuration of
their time, minute grids, attendance over the weeks, never-present members and weekly summaries,
read from the stored channels and members (no gateway), and who may see names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.analytics.periods import parse_iso_week, parse_timezone
from bot.posts.attendance import choose_channels, member_during
from bot.posts.schedule import Occurrence
from bot.web import auth
from bot.web.server import Dashboard, StaticFile, load_static
from db import tables as t
from db.dashboard import SeenMember, save_members
from db.engine import create_engine
from db.events import EventConfig, add_event
from db.migrate import upgrade
from db.reports import Reports, Snapshots, split_period
from db.rollups import DayCloser
from db.series import HOUR, MESSAGES, CounterKey
from tests.conftest import Backend
from tests.support.live import counted_and_flushed

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)  # a Sunday
G, OTHER = 31, 32
STUDY, LOUNGE, NOTES = 301, 302, 303
ADMIN, ANN, BOB, CY, OTTO, LEE, DEE = 1, 2, 3, 4, 5, 6, 7
SECRET = "events-secret"


@pytest.fixture(scope="module")
def static() -> dict[str, StaticFile]:
    return load_static()


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@dataclass
class World:
    client: TestClient  # type: ignore[type-arg]
    backend: Backend
    daily: int
    noon: int

    async def sign_in(self, user_id: int, guild_id: int = G) -> None:
        url = await auth.issue_link(self.backend.engine, SECRET, "http://d", guild_id, user_id, NOW)
        response = await self.client.get(url.removeprefix("http://d"), allow_redirects=False)
        assert response.status == 303, await response.text()

    async def get(self, path: str) -> Any:
        response = await self.client.get(f"/g/{G}{path}")
        assert response.status == 200, await response.text()
        return await response.json()


async def fill(backend: Backend) -> tuple[int, int]:
    """Two events (one configured only two days ago), study and other channels, sessions, members."""
    engine = backend.engine
    daily = await add_event(
        engine, G, start_time="10:00", minutes=60, days=0b1111111, channels={"pattern": "study*"}, now=at(12, 12, 30)
    )
    noon = await add_event(
        engine, G, start_time="12:00", minutes=45, days=0b1111111, channels={"ids": [STUDY]}, now=at(20, 12, 30)
    )
    # Another guild's event and sessions never show here.
    await add_event(
        engine, OTHER, start_time="10:00", minutes=60, days=0b1111111, channels={"pattern": "*"}, now=at(1, 0)
    )
    sessions = [
        (ANN, STUDY, at(18, 10), at(18, 10, 20)),  # 20 minutes of the 18th
        (ANN, STUDY, at(14, 10), at(14, 10, 30)),  # 30 minutes in week 46
        (BOB, LOUNGE, at(18, 10), at(18, 11)),  # not an event channel
        (CY, STUDY, at(18, 10), at(18, 10, 0, 20)),  # 20 seconds: no minute
        (OTTO, STUDY, at(18, 10), at(18, 11)),  # opted out
        (ANN, STUDY, at(21, 12), at(21, 12, 10)),  # the noon event, configured on the 20th
        (99, STUDY, at(18, 10), at(18, 11)),  # another guild's member, below
    ]
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(t.voice_sessions),
            [
                {"guild_id": OTHER if u == 99 else G, "user_id": u, "channel_id": c, "started_at": s, "ended_at": e}
                | {"open": False}
                for u, c, s, e in sessions
            ],
        )
        await conn.execute(
            sa.insert(t.channels),
            [
                {"guild_id": G, "channel_id": STUDY, "parent_id": None, "kind": "voice", "name": "Study 1"},
                {"guild_id": G, "channel_id": LOUNGE, "parent_id": None, "kind": "voice", "name": "Lounge"},
                {"guild_id": G, "channel_id": NOTES, "parent_id": None, "kind": "text", "name": "study-notes"},
            ],
        )
        names = [
            (ANN, "Ann", at(1, 0), None),
            (BOB, "Bob", at(1, 0), None),
            (CY, "<b>Cy</b>", None, None),
            (OTTO, "Otto", at(1, 0), None),
            (LEE, "Lee", at(1, 0), at(10, 0)),  # gone before any event
            (DEE, "Dee", at(1, 0), at(19, 0)),  # a member for the first occurrences
        ]
        await conn.execute(
            sa.insert(t.member_names),
            [
                {"guild_id": G, "user_id": u, "name": n, "joined_at": j, "left_at": left, "seen_at": NOW}
                for u, n, j, left in names
            ],
        )
        await conn.execute(sa.insert(t.optouts).values(guild_id=G, user_id=OTTO, mode="hide", created_at=at(2, 0)))
    await save_members(
        engine,
        [
            SeenMember(G, ADMIN, "Ada", (), True, False),
            SeenMember(G, BOB, "Bob", (), False, False),
            SeenMember(G, ANN, "Ann", (), False, False),
        ],
        NOW,
    )
    top = int(at(14, 11).timestamp()) // HOUR * HOUR
    increments: list[tuple[CounterKey, int]] = [
        ((MESSAGES.code, G, top, NOTES, ANN, "messages"), 5),
        ((MESSAGES.code, G, top - 7 * 24 * HOUR, NOTES, BOB, "messages"), 3),
    ]
    await counted_and_flushed(backend, NOW.timestamp(), increments)
    return daily, noon


@pytest.fixture
async def world(backend: Backend, static: dict[str, StaticFile]) -> AsyncIterator[World]:
    daily, noon = await fill(backend)
    reports = Reports(backend.engine, Snapshots(), DayCloser(backend.engine))
    dashboard = Dashboard(
        backend.engine, reports, secret=SECRET, base_url="http://d", clock=NOW.timestamp, static=static
    )
    client = TestClient(TestServer(dashboard.app()))
    await client.start_server()
    try:
        yield World(client, backend, daily, noon)
    finally:
        await client.close()


async def test_occurrences_count_only_events_configured_at_the_time(world: World) -> None:
    await world.sign_in(ADMIN)
    page = await world.client.get(f"/g/{G}/events")
    assert page.status == 200 and 'id="occurrences"' in await page.text()
    data = await world.get("/api/events?period=7d")
    keys = [o["key"] for o in data["occurrences"]]
    # The 10:00 event on each day from Monday the 16th (today's ended at 11:00); the noon event only
    # on the 21st: configured at 12:30 on the 20th, and today's has not ended.
    daily = [f"2026-11-{d}T10:00+00:00#{world.daily}" for d in range(22, 15, -1)]
    assert keys == [daily[0], f"2026-11-21T12:00+00:00#{world.noon}", *daily[1:]]
    assert data["events_held"] == 8
    by_key = {o["key"]: o for o in data["occurrences"]}
    assert by_key[f"2026-11-18T10:00+00:00#{world.daily}"] | {"key": ""} == {
        "key": "",
        "event": "Event 10:00 (60 min)",
        "start": "2026-11-18T10:00:00+00:00",
        "minutes": 60,
        "members_present": 1,
        "member_minutes": 20,
    }
    assert by_key[f"2026-11-21T12:00+00:00#{world.noon}"]["member_minutes"] == 10
    assert data["member_minutes"] == 30 and data["members_present"] == 1
    # Members during an occurrence without a minute: Bob (other channel), Cy (20 s), Dee (left on the
    # 19th); never Lee (gone before), Otto (opted out) or anyone of the other guild.
    assert data["never_present"] == ["<b>Cy</b>", "Bob", "Dee (left)"]
    assert data["never_present_count"] == 3


async def test_kept_attendance_follows_late_cut_and_hidden_sessions(world: World) -> None:
    """The page keeps a quarter's attendance between requests, but a session written late into a past
    occurrence, a session cut shorter and an opt-out each show at the next request."""
    await world.sign_in(ADMIN)

    async def minutes_of(key: str) -> tuple[int, int]:
        data = await world.get("/api/events?period=7d")
        found = next(o for o in data["occurrences"] if o["key"] == key)
        return found["members_present"], found["member_minutes"]

    key = f"2026-11-17T10:00+00:00#{world.daily}"
    assert await minutes_of(key) == (0, 0)
    assert await minutes_of(key) == (0, 0)  # kept
    engine = world.backend.engine
    late = {"guild_id": G, "user_id": BOB, "channel_id": STUDY, "started_at": at(17, 10, 5), "open": False}
    async with engine.begin() as conn:
        await conn.execute(sa.insert(t.voice_sessions).values(**late, ended_at=at(17, 10, 45)))
    assert await minutes_of(key) == (1, 40)
    vs = t.voice_sessions
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(vs)
            .where(vs.c.guild_id == G, vs.c.user_id == BOB, vs.c.started_at == late["started_at"])
            .values(ended_at=at(17, 10, 15))
        )
    assert await minutes_of(key) == (1, 10)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(t.optouts).values(guild_id=G, user_id=BOB, mode="hide", created_at=NOW))
    assert await minutes_of(key) == (0, 0)


async def test_minute_grid_of_an_occurrence(world: World) -> None:
    await world.sign_in(ADMIN)
    key = f"2026-11-18T10:00+00:00#{world.daily}"
    grid = await world.get(f"/api/events/occurrence?key={quote(key)}")
    assert grid["channels"] == ["Study 1"]  # the pattern matches voice channels only, not study-notes
    assert grid["attendees"] == [{"id": str(ANN), "name": "Ann", "minutes": 20, "present": "1" * 20 + "0" * 40}]
    for bad in (
        "nonsense",
        f"2026-11-20T12:00+00:00#{world.noon}",  # before the noon event was configured
        f"2026-11-22T12:00+00:00#{world.noon}",  # not over yet
        f"2026-11-18T10:05+00:00#{world.daily}",  # not a start of that event
        "2026-11-18T10:00+00:00#999",
    ):
        response = await world.client.get(f"/g/{G}/api/events/occurrence?key={quote(bad)}")
        assert response.status == 404, bad


async def test_weekly_summaries_of_past_weeks(world: World) -> None:
    await world.sign_in(ADMIN)
    data = await world.get("/api/events?period=30d")
    weeks = {w["week"]: w for w in data["weeks"]}
    assert list(weeks) == ["2026-W46", "2026-W45", "2026-W44", "2026-W43"]  # whole weeks, newest first
    w46 = weeks["2026-W46"]
    # Configured at 12:30 on the 12th: the 10:00 event ran on the 13th, 14th and 15th.
    assert (w46["events_held"], w46["event_minutes"], w46["members_present"]) == (3, 30, 1)
    assert w46["top_attendance"] == [{"id": str(ANN), "name": "Ann", "value": 30}]
    assert w46["never_present"] == ["<b>Cy</b>", "Bob", "Dee (left)"]
    reports = Reports(world.backend.engine, Snapshots())
    tz = parse_timezone("UTC")
    for label in ("2026-W46", "2026-W45"):
        week = parse_iso_week(label, tz)
        totals = await reports.totals(G, split_period(week.start, week.end, rollups=False))
        assert weeks[label]["totals"] == {
            "messages": totals.messages,
            "voice_minutes": round(totals.voice_minutes),
            "active_members": totals.active_members,
        }
    assert w46["totals"]["messages"] == 5 and w46["previous"]["messages"] == 3
    w45 = weeks["2026-W45"]
    assert w45["events_held"] == 0 and w45["never_present"] == [] and w45["never_present_count"] == 0
    assert data["attendance"]["x"] == ["2026-W43", "2026-W44", "2026-W45", "2026-W46"]
    assert data["attendance"]["event_minutes"] == [0, 0, 0, 30]


async def test_members_see_counts_without_names_and_no_grid(world: World) -> None:
    await world.sign_in(BOB)
    data = await world.get("/api/events?period=7d")
    assert data["never_present"] is None and data["never_present_count"] == 3
    assert all(w["never_present"] is None and w["top_attendance"] is None for w in data["weeks"])
    key = f"2026-11-18T10:00+00:00#{world.daily}"
    response = await world.client.get(f"/g/{G}/api/events/occurrence?key={quote(key)}")
    assert response.status == 403
    other = await world.client.get(f"/g/{OTHER}/api/events?period=7d")
    assert other.status == 403


async def test_a_period_without_events_says_so(world: World) -> None:
    await world.sign_in(ADMIN)
    async with world.backend.engine.begin() as conn:
        await conn.execute(sa.delete(t.event_history).where(t.event_history.c.guild_id == G))
    data = await world.get("/api/events?period=30d")
    assert data["occurrences"] == [] and data["events_held"] == 0
    assert data["never_present"] is None and data["never_present_count"] is None


def test_choose_channels_is_the_bots_rule() -> None:
    event = EventConfig(1, G, "10:00", 60, 127, pattern="Study*")
    known = [(1, "Study A", True), (2, "study b", True), (3, "Study notes", False), (4, "Lounge", True)]
    assert choose_channels(event, known) == {1: "Study A", 2: "study b"}
    assert choose_channels(event, known, afk_channel_id=2) == {1: "Study A"}
    listed = EventConfig(2, G, "10:00", 60, 127, channel_ids=(4, 9))
    assert choose_channels(listed, known) == {4: "Lounge", 9: "channel 9"}
    occ = Occurrence(1, at(18, 10), at(18, 11), at(18, 10), 60)
    assert member_during(None, None, [occ]) and member_during(at(18, 10, 59), None, [occ])
    assert not member_during(at(18, 11), None, [occ]) and not member_during(None, at(18, 10), [occ])
    assert member_during(None, at(18, 10, 1), [occ]) and not member_during(None, None, [])


async def test_pages_and_exports_read_the_read_engine_and_sign_in_writes_the_primary(
    tmp_path: Path, static: dict[str, StaticFile]
) -> None:
    """With DATABASE_READ_URL set, the dashboard's reads go to the read engine (here another database
    holding the figures), while links, sessions and access are the primary's."""
    primary = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}")
    replica = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}")
    try:
        for engine in (primary, replica):
            await upgrade(engine)
        await save_members(primary, [SeenMember(G, ADMIN, "Ada", (), True, False)], NOW)
        await save_members(replica, [SeenMember(G, ANN, "Ann on the replica", (), False, False)], NOW)
        async with replica.begin() as conn:
            await conn.execute(
                sa.insert(t.message_hourly).values(
                    guild_id=G, hour=at(22, 9), channel_id=NOTES, user_id=ANN, messages=7, characters=70
                )
            )
        reports = Reports(replica, Snapshots(), DayCloser(primary))
        dashboard = Dashboard(primary, reports, secret=SECRET, base_url="http://d", clock=NOW.timestamp, static=static)
        client = TestClient(TestServer(dashboard.app()))
        await client.start_server()
        try:
            url = await auth.issue_link(primary, SECRET, "http://d", G, ADMIN, NOW)
            assert (await client.get(url.removeprefix("http://d"), allow_redirects=False)).status == 303
            overview = await (await client.get(f"/g/{G}/api/overview?period=7d")).json()
            assert overview["totals"]["messages"] == 7
            assert overview["top_members"][0]["name"] == "Ann on the replica"
            csv_text = await (await client.get(f"/g/{G}/exports/messages.csv?period=7d")).text()
            assert f"{NOTES},{ANN},7,70" in csv_text
        finally:
            await client.close()
        async with replica.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(t.dashboard_sessions)) == 0
        async with primary.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(t.dashboard_sessions)) == 1
    finally:
        await primary.dispose()
        await replica.dispose()
