"""The web dashboard's routes through aiohttp's test client, on both backends: every page, data endpoint and refusal."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer

from bot.web import auth
from bot.web.server import Dashboard, StaticFile, load_static
from db import tables as t
from db.dashboard import SeenMember, mark_left, save_members
from db.guilds import update_settings
from db.reports import Reports, Snapshots
from db.rollups import DayCloser
from db.series import HOUR, MESSAGES, VOICE, CounterKey
from tests.conftest import Backend
from tests.support.live import counted_and_flushed

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
G, OTHER = 11, 22
CHANNEL, OTHER_CHANNEL = 100, 200
MENTOR_ROLE = 900
ADMIN, MENTOR, MEMBER, LEFT, OPTED, XSS, INSIGHTS = 1, 2, 3, 4, 50505, 6, 7
XSS_NAME = "<img src=x onerror=alert(1)>"
SECRET = "test-secret"
# Messages per member per day over the last 20 days, in the guild; the other guild has its own.
DAILY = {ADMIN: 2, MENTOR: 3, MEMBER: 5, LEFT: 1, OPTED: 7, XSS: 4, INSIGHTS: 1}


@pytest.fixture(scope="module")
def static() -> dict[str, StaticFile]:
    """The static files, gzipped once for the module (plotly is large)."""
    return load_static()


@dataclass
class Site:
    """The dashboard under test: its client, its clock, and a way to sign members in."""

    backend: Backend
    client: TestClient  # type: ignore[type-arg]
    now: list[datetime] = field(default_factory=lambda: [NOW])

    async def link(self, user_id: int, guild_id: int = G) -> str:
        """The path of a fresh /dashboard link for the member."""
        url = await auth.issue_link(self.backend.engine, SECRET, "http://dash.test", guild_id, user_id, self.now[0])
        return url.removeprefix("http://dash.test")

    async def sign_in(self, user_id: int, guild_id: int = G) -> None:
        """Follow a fresh link as the member; the session cookie lands in the client's jar."""
        response = await self.client.get(await self.link(user_id, guild_id), allow_redirects=False)
        assert response.status == 303, await response.text()

    def sign_out_all(self) -> None:
        self.client.session.cookie_jar.clear()


def seen(
    user_id: int,
    name: str,
    *,
    roles: tuple[int, ...] = (),
    manage: bool = False,
    insights: bool = False,
    guild_id: int = G,
) -> SeenMember:
    return SeenMember(guild_id, user_id, name, roles, manage, insights)


async def fill(backend: Backend) -> None:
    """Twenty days of messages (and a member's voice), the members as the bot saw them, joins and an opt-out."""
    top = int(NOW.timestamp()) // HOUR * HOUR - HOUR
    increments: list[tuple[CounterKey, int]] = []
    for day in range(20):
        hour = top - day * 24 * HOUR
        for user, n in DAILY.items():
            increments.append(((MESSAGES.code, G, hour, CHANNEL, user, "messages"), n))
        increments.append(((VOICE.code, G, hour, CHANNEL, MEMBER, "active_s"), 600))
        increments.append(((VOICE.code, G, hour, CHANNEL, MEMBER, "muted_s"), 120))
        increments.append(((MESSAGES.code, OTHER, hour, OTHER_CHANNEL, 99, "messages"), 1000))
    await counted_and_flushed(backend, NOW.timestamp(), increments)
    await save_members(
        backend.engine,
        [
            seen(ADMIN, "Ada Admin", manage=True),
            seen(MENTOR, "Mo Mentor", roles=(MENTOR_ROLE,)),
            seen(MEMBER, "Mia Member"),
            seen(LEFT, "Lee Left"),
            seen(OPTED, "Otto Optout"),
            seen(XSS, XSS_NAME),
            seen(INSIGHTS, "Ina Insights", insights=True),
            seen(99, "Other Guild Person", guild_id=OTHER),
        ],
        NOW,
    )
    await mark_left(backend.engine, G, [LEFT], NOW)
    await update_settings(backend.engine, G, mentor_role_id=MENTOR_ROLE)
    async with backend.engine.begin() as conn:
        await conn.execute(
            sa.insert(t.optouts).values(guild_id=G, user_id=OPTED, mode="hide", created_at=NOW - timedelta(days=1))
        )
        await conn.execute(
            sa.insert(t.channels).values(
                guild_id=G, channel_id=CHANNEL, parent_id=None, kind="text", name="<b>general</b>"
            )
        )
        await conn.execute(
            sa.insert(t.member_joins),
            [
                {
                    "guild_id": G,
                    "user_id": MEMBER,
                    "joined_at": NOW - timedelta(days=15),
                    "invite_code": "abc",
                    "inviter_id": ADMIN,
                    "left_at": None,
                },
                {
                    "guild_id": G,
                    "user_id": XSS,
                    "joined_at": NOW - timedelta(days=3),
                    "invite_code": "abc",
                    "inviter_id": ADMIN,
                    "left_at": None,
                },
                {
                    "guild_id": G,
                    "user_id": LEFT,
                    "joined_at": NOW - timedelta(days=10),
                    "invite_code": "vanity",
                    "inviter_id": None,
                    "left_at": NOW - timedelta(days=2),
                },
            ],
        )
        await conn.execute(
            sa.insert(t.invites).values(
                guild_id=G, code="abc", inviter_id=ADMIN, uses=2, created_at=NOW - timedelta(days=40)
            )
        )


@pytest.fixture
async def site(backend: Backend, static: dict[str, StaticFile]) -> AsyncIterator[Site]:
    await fill(backend)
    now = [NOW]
    reports = Reports(backend.engine, Snapshots(), DayCloser(backend.engine))
    dashboard = Dashboard(
        backend.engine,
        reports,
        secret=SECRET,
        base_url="http://dash.test",
        clock=lambda: now[0].timestamp(),
        static=static,
    )
    client = TestClient(TestServer(dashboard.app()))
    await client.start_server()
    try:
        yield Site(backend, client, now)
    finally:
        await client.close()


def table_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The members table's rows (one array per column, in the order of ``keys``) as one dict per member."""
    columns = payload["columns"]
    assert list(columns) == payload["keys"]
    return [dict(zip(payload["keys"], row, strict=True)) for row in zip(*columns.values(), strict=True)]


async def refused(response: object) -> str:
    """The refusal page's text, after checking it is a plain 403 page."""
    from aiohttp import ClientResponse

    assert isinstance(response, ClientResponse)
    text = await response.text()
    assert response.status == 403, text
    assert response.content_type == "text/html"
    assert 'id="reason"' in text and "/api/" not in text
    return text


# -- getting in -------------------------------------------------------------------------------------


async def test_a_link_signs_in_once_with_a_strict_session_cookie(site: Site) -> None:
    link = await site.link(MEMBER)
    response = await site.client.get(link, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/g/{G}/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"sb_{G}=")
    for part in ("HttpOnly", "SameSite=Lax", f"Path=/g/{G}"):
        assert part in cookie
    assert "Secure" not in cookie  # http base URL
    page = await site.client.get(f"/g/{G}/")
    assert page.status == 200
    assert "Mia Member" in await page.text()
    # Only hashes are stored: neither the link's token nor the cookie's value is in the database.
    value = cookie.split(";")[0].split("=", 1)[1]
    async with site.backend.engine.connect() as conn:
        sessions = (await conn.execute(sa.select(t.dashboard_sessions.c.session_hash))).scalars().all()
        tokens = (await conn.execute(sa.select(t.dashboard_tokens.c.token_hash))).scalars().all()
    assert sessions == [auth.digest(value)]
    assert tokens == [auth.digest(link.rsplit("/", 1)[1])]
    site.sign_out_all()
    assert "already used" in await refused(await site.client.get(link, allow_redirects=False))


async def test_https_base_url_makes_the_cookie_secure(backend: Backend, static: dict[str, StaticFile]) -> None:
    await save_members(backend.engine, [seen(MEMBER, "Mia Member")], NOW)
    reports = Reports(backend.engine, Snapshots())
    dashboard = Dashboard(
        backend.engine, reports, secret=SECRET, base_url="https://dash.example", clock=NOW.timestamp, static=static
    )
    async with TestClient(TestServer(dashboard.app())) as client:
        url = await auth.issue_link(backend.engine, SECRET, "https://dash.example", G, MEMBER, NOW)
        response = await client.get(url.removeprefix("https://dash.example"), allow_redirects=False)
        assert response.status == 303
        assert "Secure" in response.headers["Set-Cookie"]


async def test_forged_expired_and_other_guild_links_are_refused(site: Site) -> None:
    link = await site.link(MEMBER)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert "not valid" in await refused(await site.client.get(forged, allow_redirects=False))
    # Another member's id in a payload signed with another key.
    wrong_key = await auth.issue_link(site.backend.engine, "other-key", "", G, ADMIN, NOW)
    assert "not valid" in await refused(await site.client.get(wrong_key, allow_redirects=False))
    # A link of this guild followed into another guild's address.
    other = link.replace(f"/login/{G}/", f"/login/{OTHER}/")
    assert "another server" in await refused(await site.client.get(other, allow_redirects=False))
    # Ten minutes later the link has expired (it was never used).
    site.now[0] = NOW + timedelta(minutes=10, seconds=1)
    assert "expired" in await refused(await site.client.get(link, allow_redirects=False))
    assert not site.client.session.cookie_jar.filter_cookies(site.client.make_url(f"/g/{G}/"))
    assert "not signed in" in await refused(await site.client.get(f"/g/{G}/"))


async def test_another_guilds_pages_are_refused(site: Site) -> None:
    await site.sign_in(ADMIN)
    cookie = site.client.session.cookie_jar.filter_cookies(site.client.make_url(f"/g/{G}/"))[f"sb_{G}"].value
    for path in (f"/g/{OTHER}/", f"/g/{OTHER}/api/overview", f"/g/{OTHER}/members"):
        await refused(await site.client.get(path))
        # Even with this guild's session sent along under the other guild's name.
        await refused(await site.client.get(path, headers={"Cookie": f"sb_{OTHER}={cookie}"}))


async def test_a_member_who_left_or_lost_the_role_loses_access_at_the_next_request(site: Site) -> None:
    await site.sign_in(MENTOR)
    assert (await site.client.get(f"/g/{G}/members")).status == 200
    assert (await site.client.get(f"/g/{G}/api/members")).status == 200
    # The mentor role is revoked: the next request refuses member-level pages, the overview stays.
    await save_members(site.backend.engine, [seen(MENTOR, "Mo Mentor")], NOW)
    await refused(await site.client.get(f"/g/{G}/members"))
    await refused(await site.client.get(f"/g/{G}/api/members"))
    assert (await site.client.get(f"/g/{G}/")).status == 200
    # The member leaves: nothing at all.
    await mark_left(site.backend.engine, G, [MENTOR], NOW)
    assert "no longer a member" in await refused(await site.client.get(f"/g/{G}/"))
    assert "no longer a member" in await refused(await site.client.get(f"/g/{G}/api/overview"))
    # And a member who left cannot sign in with a link issued before.
    await refused(await site.client.get(await site.link(LEFT), allow_redirects=False))


async def test_the_mentor_role_setting_and_view_server_insights_count_at_once(site: Site) -> None:
    await site.sign_in(INSIGHTS)
    assert (await site.client.get(f"/g/{G}/watchlist")).status == 200
    site.sign_out_all()
    await site.sign_in(MENTOR)
    await update_settings(site.backend.engine, G, mentor_role_id=None)
    await refused(await site.client.get(f"/g/{G}/watchlist"))


async def test_members_see_aggregates_and_only_their_own_page(site: Site) -> None:
    await site.sign_in(MEMBER)
    for path in ("/", "/invites", "/api/overview", "/api/invites", f"/members/{MEMBER}", f"/api/members/{MEMBER}"):
        response = await site.client.get(f"/g/{G}{path}")
        assert response.status == 200, (path, await response.text())
    for path in (
        f"/members/{ADMIN}",
        f"/api/members/{ADMIN}",
        "/members",
        "/api/members",
        "/watchlist",
        "/api/watchlist",
        "/exports",
        "/exports/messages.csv",
    ):
        await refused(await site.client.get(f"/g/{G}{path}"))


async def test_an_opted_out_members_page_is_refused_and_they_appear_nowhere(site: Site) -> None:
    await site.sign_in(ADMIN)
    assert "opted out" in await refused(await site.client.get(f"/g/{G}/members/{OPTED}"))
    await refused(await site.client.get(f"/g/{G}/api/members/{OPTED}"))
    bodies = []
    for path in (
        "/api/overview?period=30d",
        "/api/members?period=30d",
        "/api/watchlist",
        "/api/events",
        "/api/invites",
    ):
        response = await site.client.get(f"/g/{G}{path}")
        assert response.status == 200
        bodies.append(await response.text())
    for dataset in ("messages", "voice", "invites"):
        bodies.append(await (await site.client.get(f"/g/{G}/exports/{dataset}.csv?period=30d")).text())
    for text in bodies:
        assert "Otto" not in text and str(OPTED) not in text


async def test_an_erased_member_leaves_no_dashboard_rows_and_no_session(site: Site) -> None:
    from db.privacy import MEMBER_TABLES, erase_member, member_rows

    assert {t.dashboard_members, t.dashboard_tokens, t.dashboard_sessions} <= set(MEMBER_TABLES)
    await site.sign_in(MEMBER)
    await site.link(MEMBER)  # an unused link too
    before = await member_rows(site.backend.engine, G, MEMBER)
    assert before["dashboard_members"] == 1 and before["dashboard_tokens"] == 2 and before["dashboard_sessions"] == 1
    await erase_member(site.backend.engine, G, MEMBER)  # what /privacy optout mode:delete runs
    after = await member_rows(site.backend.engine, G, MEMBER)
    assert after["dashboard_members"] == after["dashboard_tokens"] == after["dashboard_sessions"] == 0
    await refused(await site.client.get(f"/g/{G}/"))
    # Other members' rows stay.
    assert (await member_rows(site.backend.engine, G, ADMIN))["dashboard_members"] == 1


async def test_logout_is_a_post_that_ends_the_session(site: Site) -> None:
    await site.sign_in(ADMIN)
    assert (await site.client.get(f"/g/{G}/logout")).status == 405
    assert (await site.client.get(f"/g/{G}/")).status == 200
    cookie = site.client.session.cookie_jar.filter_cookies(site.client.make_url(f"/g/{G}/"))[f"sb_{G}"].value
    response = await site.client.post(f"/g/{G}/logout", allow_redirects=False)
    assert response.status == 303
    # The session is gone from the database, not just from the browser.
    assert "session has ended" in await refused(
        await site.client.get(f"/g/{G}/", headers={"Cookie": f"sb_{G}={cookie}"})
    )


# -- pages and figures ----------------------------------------------------------------------------


async def test_every_page_renders_for_an_admin_with_headers(site: Site) -> None:
    await site.sign_in(ADMIN)
    for path in ("/", "/members", f"/members/{MEMBER}", "/watchlist", "/events", "/invites", "/exports"):
        response = await site.client.get(f"/g/{G}{path}")
        text = await response.text()
        assert response.status == 200, (path, text)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script>" not in text and "onclick" not in text  # no inline scripts
    overview = await (await site.client.get(f"/g/{G}/")).text()
    assert "&lt;b&gt;general&lt;/b&gt;" in overview and "<b>general</b>" not in overview


async def test_overview_figures_equal_the_reports_and_change_against_the_previous_period(site: Site) -> None:
    await site.sign_in(MENTOR)
    data = await (await site.client.get(f"/g/{G}/api/overview?period=7d")).json()
    shown = {u: n for u, n in DAILY.items() if u != OPTED}
    # 7d: today and six local days before; rows sit at 11:00 each day.
    assert data["totals"]["messages"] == 7 * sum(shown.values())
    assert data["totals"]["voice_minutes"] == 7 * 12
    assert data["totals"]["active_members"] == len(shown)
    assert data["previous"]["messages"] == 7 * sum(shown.values())
    assert data["bucket"] == "hour"
    assert sum(data["series"]["messages"]) == data["totals"]["messages"]
    assert sum(map(sum, data["heatmap"])) == data["totals"]["messages"]
    assert [m["name"] for m in data["top_members"]][:2] == ["Mia Member", XSS_NAME]
    assert data["top_channels"] == [{"id": str(CHANNEL), "name": "<b>general</b>", "value": data["totals"]["messages"]}]
    assert data["totals"]["joins"] == 1 and data["totals"]["leaves"] == 1
    assert sum(data["growth"]["joins"]) == 1 and sum(data["growth"]["leaves"]) == 1
    month = await (await site.client.get(f"/g/{G}/api/overview?period=30d&channel={CHANNEL}")).json()
    assert month["bucket"] == "day"
    assert month["totals"]["messages"] == 20 * sum(shown.values())
    assert month["previous"]["messages"] == 0
    year = await (await site.client.get(f"/g/{G}/api/overview?period=365d")).json()
    assert year["bucket"] == "week" and sum(year["series"]["messages"]) == 20 * sum(shown.values())
    assert (await site.client.get(f"/g/{G}/api/overview?period=2w")).status == 404


async def test_members_table_member_page_watchlist_and_invites(site: Site) -> None:
    await site.sign_in(ADMIN)
    table = table_rows(await (await site.client.get(f"/g/{G}/api/members?period=30d")).json())
    by_id = {int(r["id"]): r for r in table}
    assert set(by_id) == {ADMIN, MENTOR, MEMBER, LEFT, XSS, INSIGHTS}
    assert by_id[MEMBER]["messages"] == 100 and by_id[MEMBER]["active_minutes"] == 200
    assert by_id[MEMBER]["muted_minutes"] == 40 and by_id[MEMBER]["voice_minutes"] == 240
    assert by_id[MEMBER]["active_days"] == 20
    assert by_id[LEFT]["name"] == "Lee Left (left)"
    assert 0 <= by_id[MEMBER]["engagement"] <= 100 and by_id[MEMBER]["risk"] in ("low", "medium", "high")
    card = await (await site.client.get(f"/g/{G}/api/members/{MEMBER}?period=30d")).json()
    assert card["figures"]["Messages"] == 100
    assert card["figures"]["Voice minutes"] == 200  # the mentor card's voice is active voice
    # As /mentor card counts them: from the member's recorded join, 15 days ago (16 local days).
    assert card["figures"]["Active days"] == 16
    # The table's engagement and risk are the card's (the table reads totals, the card day matrices).
    for uid in (ADMIN, MEMBER, XSS, LEFT):
        other = await (await site.client.get(f"/g/{G}/api/members/{uid}?period=30d")).json()
        assert (by_id[uid]["engagement"], by_id[uid]["risk"]) == (
            other["figures"]["Engagement"],
            other["figures"]["Risk"],
        )
    assert len(card["heatmap"]) == 7 and sum(map(sum, card["heatmap"])) > 0
    assert (await site.client.get(f"/g/{G}/api/members/424242")).status == 404
    watch = await (await site.client.get(f"/g/{G}/api/watchlist")).json()
    assert all(int(m["id"]) in by_id for m in watch["members"])
    invites = await (await site.client.get(f"/g/{G}/api/invites?period=30d")).json()
    (row,) = invites["inviters"]
    assert row["name"] == "Ada Admin" and row["joins"] == 2
    # Both invited members were active after a day; only the one who joined 15 days ago is due at 7 days.
    assert row["active_after_1d"] == 2 and row["active_after_7d"] == 1 and row["active_after_30d"] is None
    assert invites["vanity_joins"] == 1


async def test_the_members_table_shows_a_name_change_and_an_opt_out_at_once(site: Site) -> None:
    await site.sign_in(ADMIN)

    async def names() -> dict[int, str]:
        rows = table_rows(await (await site.client.get(f"/g/{G}/api/members?period=30d")).json())
        return {int(r["id"]): r["name"] for r in rows}

    assert (await names())[MEMBER] == "Mia Member"  # the guild's names are kept from here on
    await save_members(site.backend.engine, [seen(MEMBER, "Mia Renamed")], NOW + timedelta(seconds=1))
    assert (await names())[MEMBER] == "Mia Renamed"
    async with site.backend.engine.begin() as conn:
        await conn.execute(sa.insert(t.optouts).values(guild_id=G, user_id=XSS, mode="hide", created_at=NOW))
    assert XSS not in await names()
    async with site.backend.engine.begin() as conn:
        await conn.execute(sa.delete(t.optouts).where(t.optouts.c.user_id == XSS))
    assert (await names())[XSS] == XSS_NAME  # opted back in: shown again


async def test_exports_are_the_export_datasets(site: Site) -> None:
    await site.sign_in(ADMIN)
    response = await site.client.get(f"/g/{G}/exports/messages.csv?period=7d")
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="messages-7d-')
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["hour_utc", "channel_id", "user_id", "messages", "characters", "attachments", "replies"]
    assert sum(int(r[3]) for r in rows[1:]) == 7 * sum(n for u, n in DAILY.items() if u != OPTED)
    assert all(r[2] != str(OPTED) for r in rows[1:])
    assert (await site.client.get(f"/g/{G}/exports/secrets.csv")).status == 404


async def test_static_files_are_compressed_and_cacheable(site: Site, static: dict[str, StaticFile]) -> None:
    await site.sign_in(ADMIN)
    page = await (await site.client.get(f"/g/{G}/")).text()
    path = f"/static/{static['plotly.min.js'].version}/plotly.min.js"
    assert path in page
    response = await site.client.get(path, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    body = await response.read()
    assert len(body) < len(static["plotly.min.js"].body) / 3
    assert gzip.decompress(body) == static["plotly.min.js"].body
    assert (await site.client.get("/static/0000/plotly.min.js")).status == 404
    css = await (await site.client.get(f"/static/{static['style.css'].version}/style.css")).text()
    assert "--background:#313338" in css  # the report images' dark background


async def test_a_member_name_with_markup_is_escaped(site: Site) -> None:
    await site.sign_in(XSS)
    text = await (await site.client.get(f"/g/{G}/")).text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert XSS_NAME not in text


async def test_the_bot_serves_the_dashboard_in_process_when_dashboard_port_is_set(backend: Backend) -> None:
    import socket

    import aiohttp

    from bot.app import StatsBot
    from bot.settings import load_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings = load_settings(
        DATABASE_URL=backend.url, REDIS_URL=backend.redis_url, DASHBOARD_PORT=port, DASHBOARD_URL=None
    )
    store = backend.store() if backend.redis_url else None
    bot = StatsBot(settings, extensions=(), store=store, render_processes=0)
    await bot.setup_hook()
    try:
        async with aiohttp.ClientSession() as http:
            response = await http.get(f"http://127.0.0.1:{port}/")
            assert response.status == 200 and "/dashboard" in await response.text()
    finally:
        await bot.close()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/")
