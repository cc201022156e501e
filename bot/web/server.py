"""The dashboard's aiohttp application: routes, sign-in, refusals, security headers and static files.

Pages are Jinja2 templates (autoescaped) that carry no data of their own beyond names:
the figures come from JSON endpoints under ``/g/<guild>/api/`` that ``app.js`` reads and
draws with plotly, so a period switch never reloads the page. Every request under
``/g/<guild>/`` re-reads the member's access from the database.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jinja2
import orjson
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.render.csvfile import COLUMNS, DATASETS, csv_text
from bot.render.theme import DARK, RGB
from bot.web import auth
from bot.web.data import NotFound, PageData
from bot.web.oauth import STATE_COOKIE, OAuthConfig, check_state, exchange, new_state
from db import dashboard as repo
from db.export import stream_rows
from db.privacy import is_opted_out
from db.reports import Reports

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).parent
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# ``all`` exports start at the epoch, as /export does: every stored row is newer.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
PERIODS: Final = ("24h", "7d", "30d", "90d", "365d", "all")
DEFAULT_PERIOD: Final = "30d"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One static file, held plain and gzipped, named by its content hash so it can be cached for good."""

    body: bytes
    gzipped: bytes
    content_type: str
    version: str


def _css_vars() -> str:
    """The report images' dark theme as CSS custom properties."""

    def hexa(c: RGB) -> str:
        return "#" + "".join(f"{v:02x}" for v in c)

    names = (
        "background",
        "surface",
        "surface_alt",
        "grid",
        "text",
        "text_muted",
        "text_dim",
        "accent",
        "messages",
        "voice",
        "good",
        "warn",
        "bad",
        "heat_low",
        "heat_high",
    )
    return ":root{" + "".join(f"--{n.replace('_', '-')}:{hexa(getattr(DARK, n))};" for n in names) + "}\n"


def load_static() -> dict[str, StaticFile]:
    """app.js, style.css (with the theme's colours) and plotly.min.js from the installed plotly package."""
    plotly = resources.files("plotly") / "package_data" / "plotly.min.js"
    raw = {
        "app.js": ((HERE / "static" / "app.js").read_bytes(), "application/javascript"),
        "style.css": ((_css_vars() + (HERE / "static" / "style.css").read_text()).encode(), "text/css"),
        "favicon.svg": ((HERE / "static" / "favicon.svg").read_bytes(), "image/svg+xml"),
        "plotly.min.js": (plotly.read_bytes(), "application/javascript"),
    }
    return {
        name: StaticFile(body, gzip.compress(body, 6, mtime=0), ctype, hashlib.sha256(body).hexdigest()[:12])
        for name, (body, ctype) in raw.items()
    }


class Dashboard:
    """The dashboard's routes over one engine; ``app()`` builds the aiohttp application."""

    def __init__(
        self,
        engine: AsyncEngine,
        reports: Reports,
        *,
        secret: str,
        base_url: str,
        clock: Clock,
        static: dict[str, StaticFile] | None = None,
        oauth: OAuthConfig | None = None,
    ) -> None:
        self.engine = engine
        self.oauth = oauth
        self.secret = secret
        self.secure = base_url.startswith("https://")
        self.clock = clock
        self.data = PageData(reports, clock)
        self.static = static if static is not None else load_static()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.ChainableUndefined
        )
        self.templates.globals["static"] = self._static_url

    def _static_url(self, name: str) -> str:
        return f"/static/{self.static[name].version}/{name}"

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self._headers, self._refusals])
        g = "/g/{guild:[0-9]{1,20}}"
        app.router.add_get("/", self.home)
        app.router.add_get("/login/{guild:[0-9]{1,20}}/{token}", self.login)
        app.router.add_get("/static/{version}/{name}", self.static_file)
        if self.oauth is not None:
            app.router.add_get("/oauth/login", self.oauth_login)
            app.router.add_get("/oauth/callback", self.oauth_callback)
        app.router.add_get(g + "/", self.page("overview", "Overview", charts=True, channels=True))
        app.router.add_get(g + "/members", self.page("members", "Members", mentor=True))
        app.router.add_get(g + "/members/{user:[0-9]{1,20}}", self.member_page)
        app.router.add_get(g + "/watchlist", self.page("watchlist", "Watchlist", mentor=True))
        app.router.add_get(g + "/events", self.page("events", "Events", charts=True))
        app.router.add_get(g + "/invites", self.page("invites", "Invites"))
        app.router.add_get(g + "/exports", self.page("exports", "Exports", mentor=True, periods=True))
        app.router.add_get(g + "/exports/{dataset}.csv", self.export)
        app.router.add_get(g + "/api/overview", self.api_overview)
        app.router.add_get(g + "/api/members", self.api_members)
        app.router.add_get(g + "/api/members/{user:[0-9]{1,20}}", self.api_member)
        app.router.add_get(g + "/api/watchlist", self.api_watchlist)
        app.router.add_get(g + "/api/events", self.api_events)
        app.router.add_get(g + "/api/events/occurrence", self.api_occurrence)
        app.router.add_get(g + "/api/invites", self.api_invites)
        app.router.add_post(g + "/logout", self.logout)
        return app

    # -- middlewares -----------------------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @web.middleware
    async def _refusals(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except auth.Refused as exc:
            return self._message("Not allowed", str(exc), 403)
        except NotFound as exc:
            return self._message("Not found", str(exc), 404)

    def _message(self, title: str, reason: str, status: int) -> web.Response:
        html = self.templates.get_template("message.html").render(title=title, reason=reason)
        return web.Response(text=html, status=status, content_type="text/html")

    # -- helpers --------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.data.now()

    async def viewer(self, request: web.Request, *, mentor: bool = False) -> auth.Viewer:
        """The signed-in member of this guild, with their level now; ``Refused`` otherwise."""
        guild_id = int(request.match_info["guild"])
        cookie = request.cookies.get(auth.cookie_name(guild_id))
        viewer = await auth.current_viewer(self.engine, guild_id, cookie, self.now())
        if mentor and not viewer.mentor:
            raise auth.Refused("This page is for mentors and members with Manage Server.")
        return viewer

    async def member_viewer(self, request: web.Request) -> tuple[auth.Viewer, int]:
        """The viewer of a member's page: the member themself, or a mentor; never an opted-out member's page."""
        viewer = await self.viewer(request)
        user_id = int(request.match_info["user"])
        if user_id != viewer.user_id and not viewer.mentor:
            raise auth.Refused("Only mentors and members with Manage Server can open another member's page.")
        if await is_opted_out(self.engine, viewer.guild_id, user_id):
            raise auth.Refused("This member opted out: nothing about them is shown.")
        return viewer, user_id

    @staticmethod
    def period_of(request: web.Request) -> str:
        return request.query.get("period", DEFAULT_PERIOD)

    def render(self, page: str, title: str, viewer: auth.Viewer, **context: Any) -> web.Response:
        context["data"] = {"mentor": "1" if viewer.mentor else "0", **context.get("data", {})}
        context.setdefault("periods", PERIODS)
        context.setdefault("period", DEFAULT_PERIOD)
        context.setdefault("channels", None)
        context.setdefault("charts", False)
        html = self.templates.get_template(f"{page}.html").render(
            page=page, title=title, viewer=viewer, guild_id=viewer.guild_id, **context
        )
        return web.Response(text=html, content_type="text/html")

    @staticmethod
    def json(payload: dict[str, Any]) -> web.Response:
        # orjson: the members table of a large guild is tens of thousands of rows (json.dumps: ~5x slower).
        return web.Response(
            body=orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), content_type="application/json"
        )

    # -- pages -----------------------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.Response:
        """The bare address: how to get in (and "Log in with Discord" when it is on)."""
        html = self.templates.get_template("home.html").render(oauth=self.oauth is not None, guilds=[])
        return web.Response(text=html, content_type="text/html")

    def page(
        self,
        page: str,
        title: str,
        *,
        mentor: bool = False,
        charts: bool = False,
        channels: bool = False,
        periods: bool = True,
    ) -> Handler:
        """A page handler: check access, render the template (its figures come from the page's API)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            viewer = await self.viewer(request, mentor=mentor)
            extra: dict[str, Any] = {"charts": charts}
            if channels:
                extra["channels"] = await self.data.channels(viewer.guild_id)
            if page == "exports":
                extra["datasets"] = DATASETS
            period = self.period_of(request)
            extra["period"] = period if period in PERIODS else DEFAULT_PERIOD
            return self.render(page, title, viewer, **extra)

        return handler

    async def member_page(self, request: web.Request) -> web.StreamResponse:
        """A member's page: the mentor card's figures."""
        viewer, user_id = await self.member_viewer(request)
        names = await self.data.names(viewer.guild_id, [user_id])
        if user_id not in names.names:
            raise NotFound("There is nothing to show for this member.")
        return self.render("member", names.of(user_id), viewer, charts=True, data={"user": str(user_id)})

    # -- data -----------------------------------------------------------------------------------------

    async def api_overview(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.viewer(request)
        channel = request.query.get("channel") or None
        if channel is not None and not channel.isdigit():
            raise NotFound("Unknown channel.")
        channel_id = None if channel is None else int(channel)
        return self.json(await self.data.overview(viewer.guild_id, self.period_of(request), channel_id))

    async def api_members(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.viewer(request, mentor=True)
        return self.json(await self.data.members(viewer.guild_id, self.period_of(request)))

    async def api_member(self, request: web.Request) -> web.StreamResponse:
        viewer, user_id = await self.member_viewer(request)
        return self.json(await self.data.member(viewer.guild_id, user_id, self.period_of(request)))

    async def api_watchlist(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.viewer(request, mentor=True)
        return self.json(await self.data.watchlist(viewer.guild_id, self.period_of(request)))

    async def api_events(self, request: web.Request) -> web.StreamResponse:
        # Everyone sees the counts; members are named (attendance, never present) to mentors only.
        viewer = await self.viewer(request)
        return self.json(await self.data.events(viewer.guild_id, self.period_of(request), viewer.mentor))

    async def api_occurrence(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.viewer(request, mentor=True)
        return self.json(await self.data.occurrence(viewer.guild_id, request.query.get("key", "")))

    async def api_invites(self, request: web.Request) -> web.StreamResponse:
        viewer = await self.viewer(request)
        return self.json(await self.data.invites(viewer.guild_id, self.period_of(request)))

    async def export(self, request: web.Request) -> web.StreamResponse:
        """One /export dataset as a CSV download, streamed from the database."""
        viewer = await self.viewer(request, mentor=True)
        dataset = request.match_info["dataset"]
        if dataset not in DATASETS:
            raise NotFound("Unknown dataset.")
        value = self.period_of(request)
        period = await self.data.period(viewer.guild_id, value)
        start = period.start if value != "all" else EPOCH
        stamp = self.now().astimezone(period.tz).strftime("%Y-%m-%d")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{dataset}-{period.label}-{stamp}.csv"',
            }
        )
        await response.prepare(request)
        await response.write(csv_text([COLUMNS[dataset]]).encode())
        # From the read engine (DATABASE_READ_URL's replica when set), as /export reads.
        async for chunk in stream_rows(self.data.engine, dataset, viewer.guild_id, start, period.end):
            await response.write(csv_text(chunk).encode())
        await response.write_eof()
        return response

    # -- getting in and out ------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Follow a /dashboard link: use it up, open a session, go to the overview."""
        guild_id = int(request.match_info["guild"])
        now = self.now()
        claim = await auth.redeem_link(self.engine, self.secret, guild_id, request.match_info["token"], now)
        await auth.viewer_of(self.engine, claim.guild_id, claim.user_id)
        value = await auth.open_session(self.engine, claim, now)
        response = web.Response(status=303, headers={"Location": f"/g/{guild_id}/"})
        self._set_session(response, guild_id, value)
        return response

    def _set_session(self, response: web.StreamResponse, guild_id: int, value: str) -> None:
        response.set_cookie(
            auth.cookie_name(guild_id),
            value,
            path=f"/g/{guild_id}",
            max_age=int(auth.SESSION_VALID.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=self.secure or None,
        )

    async def oauth_login(self, request: web.Request) -> web.StreamResponse:
        """Off to Discord's consent page, with a state this browser keeps in a cookie."""
        assert self.oauth is not None  # the route exists only then
        state = new_state()
        response = web.Response(status=303, headers={"Location": self.oauth.authorize_url(state)})
        response.set_cookie(
            STATE_COOKIE, state, path="/oauth", max_age=600, httponly=True, samesite="Lax", secure=self.secure or None
        )
        return response

    async def oauth_callback(self, request: web.Request) -> web.StreamResponse:
        """Back from Discord: a session for every guild where the bot gives this member access."""
        assert self.oauth is not None
        check_state(request.cookies.get(STATE_COOKIE), request.query.get("state"))
        code = request.query.get("code")
        if not code:
            raise auth.Refused("Discord did not grant the login.")
        login = await exchange(self.oauth, code)
        now = self.now()
        opened: list[tuple[int, str, str]] = []
        for guild_id, name in login.guilds:
            try:
                await auth.viewer_of(self.engine, guild_id, login.user_id)
            except auth.Refused:
                continue
            claim = auth.LinkClaim(guild_id, login.user_id)
            opened.append((guild_id, name, await auth.open_session(self.engine, claim, now)))
        if not opened:
            raise auth.Refused("None of your servers has this bot's dashboard for you: use /dashboard in a server.")
        if len(opened) == 1:
            response = web.Response(status=303, headers={"Location": f"/g/{opened[0][0]}/"})
        else:
            html = self.templates.get_template("home.html").render(
                oauth=True, guilds=[{"id": g, "name": name} for g, name, _ in opened]
            )
            response = web.Response(text=html, content_type="text/html")
        for guild_id, _, value in opened:
            self._set_session(response, guild_id, value)
        response.del_cookie(STATE_COOKIE, path="/oauth")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """End the session (POST only; SameSite cookies keep other sites from doing it)."""
        guild_id = int(request.match_info["guild"])
        name = auth.cookie_name(guild_id)
        cookie = request.cookies.get(name)
        if cookie:
            await repo.end_session(self.engine, auth.digest(cookie))
        response = web.Response(status=303, headers={"Location": "/"})
        response.del_cookie(name, path=f"/g/{guild_id}")
        return response

    async def static_file(self, request: web.Request) -> web.StreamResponse:
        """A static file, gzipped when the browser takes it, cacheable for a year (its URL names its content)."""
        found = self.static.get(request.match_info["name"])
        if found is None or found.version != request.match_info["version"]:
            raise web.HTTPNotFound()
        gz = "gzip" in request.headers.get("Accept-Encoding", "")
        response = web.Response(body=found.gzipped if gz else found.body, content_type=found.content_type)
        if gz:
            response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["ETag"] = f'"{found.version}"'
        return response


class DashboardServer:
    """The dashboard listening on a port: started and closed by its owner (the bot, or ``python -m bot web``)."""

    def __init__(self, dashboard: Dashboard, port: int, host: str = "0.0.0.0") -> None:
        self.dashboard = dashboard
        self.port = port
        self.host = host
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen."""
        self._runner = web.AppRunner(self.dashboard.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        log.info("dashboard listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stop listening and finish open requests."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def make_dashboard(
    engine: AsyncEngine,
    reports: Reports,
    *,
    secret: str | None,
    base_url: str,
    clock: Clock,
    oauth: OAuthConfig | None = None,
) -> Dashboard:
    """A dashboard on this engine, with DASHBOARD_SECRET or the one kept in the database."""
    return Dashboard(
        engine, reports, secret=await auth.resolve_secret(engine, secret), base_url=base_url, clock=clock, oauth=oauth
    )
