"""Command line: ``python -m bot run | migrate | demo``; ``--help`` lists the environment variables.

Every failure an admin can fix ends the process with one line on stderr and no traceback:
exit status 2 for a configuration error (a variable to correct), 1 for a service that cannot
be reached or refuses (Discord, the database), 130 after Ctrl-C before the bot connected.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.heap import freeze_startup_heap  # the standard library's gc only

if TYPE_CHECKING:
    import discord

    from bot.settings import Settings

# Only the standard library at import: ``--help`` and ``--version`` answer at once. The bot's
# libraries (discord.py, SQLAlchemy, redis, pydantic) are imported by the commands that use them.

log = logging.getLogger("bot")

# Kept equal to pyproject.toml's version (tests/unit/test_deploy.py checks).
VERSION = "0.1.0"
LOGIN_ATTEMPTS = 3
REDIS_CHECK_TIMEOUT_S = 5.0

ENVIRONMENT = (
    ("DISCORD_TOKEN", "bot token (required for run)"),
    ("DATABASE_URL", "postgresql://… or sqlite+aiosqlite:///…, default sqlite+aiosqlite:///./data/stats.db"),
    ("REDIS_URL", "redis://…; unset: the buffer is in the process"),
    ("FLUSH_INTERVAL_SECONDS", "buffer to database, default 10"),
    ("SHARD_COUNT, SHARD_IDS", "run a subset of shards in this process (SHARD_IDS=0,1)"),
    ("LOG_LEVEL", "DEBUG, INFO (default), WARNING, ERROR, CRITICAL"),
    ("LOG_FORMAT", "text (default) or json: one JSON object per line"),
    ("METRICS_PORT", "Prometheus /metrics and /healthz; unset: off"),
    ("DATABASE_READ_URL", "a read replica for reports, the dashboard and exports"),
    ("REDIS_CLUSTER", "true: REDIS_URL names a node of a Redis Cluster"),
    ("DASHBOARD_PORT", "serve the web dashboard from run too; unset: off"),
    ("DASHBOARD_URL", "public base URL of the dashboard (default http://localhost:PORT)"),
    ("DASHBOARD_SECRET", "signing key for dashboard links; unset: generated once, kept in the database"),
    ("DASHBOARD_OAUTH_CLIENT_ID, DASHBOARD_OAUTH_CLIENT_SECRET", "enable \"Log in with Discord\" on the dashboard"),
    ("GUILD_PURGE_DAYS", "days from the bot's removal from a server to deleting its data, default 30; 0: never"),
    ("DISCORD_TIMEOUT_SECONDS", f"how long one login to Discord may take, default 30 ({LOGIN_ATTEMPTS} attempts)"),
)  # fmt: skip


class Fatal(Exception):
    """An error the user can fix; printed as one line, exit code 1."""


class Unreachable(Exception):
    """Discord could not be reached or did not answer in time: worth another attempt."""


def _where(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.database or "" if u.get_backend_name() == "sqlite" else f"{u.host}:{u.port or 5432}/{u.database}"


def _is_sqlite(url: str) -> bool:
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name() == "sqlite"


def _database_failure(url: str, exc: BaseException) -> Fatal | None:
    """The one line for a database that cannot be opened or refuses us; None for anything else (a bug)."""
    import sqlalchemy.exc as sa_exc

    from db.errors import is_transient

    where = _where(url)
    if _is_sqlite(url):
        if isinstance(exc, OSError):
            why = exc.strerror or type(exc).__name__
            return Fatal(f"cannot create the folder of the SQLite database {where}: {why}; check DATABASE_URL")
        if isinstance(exc, sa_exc.OperationalError):
            return Fatal(
                f"cannot write the SQLite database {where} ({exc.orig}): check DATABASE_URL and that this user "
                "may write to that folder"
            )
        return None
    if is_transient(exc):
        return Fatal(f"database unreachable at {where}: {_reason(exc)}; check DATABASE_URL and that the server runs")
    if isinstance(exc, sa_exc.DBAPIError):
        # Wrong password, unknown database or role: the server answered and refused.
        return Fatal(f"database at {where} refused the connection: {_reason(exc)}; check DATABASE_URL")
    return None


def _reason(exc: BaseException) -> str:
    """The innermost useful message of a driver error, on one line and without passwords."""
    import sqlalchemy.exc as sa_exc

    from bot.settings import redact

    inner: BaseException = exc
    while isinstance(inner, sa_exc.DBAPIError) and inner.orig is not None:
        inner = inner.orig
    if inner.__cause__ is not None and not str(inner).strip():
        inner = inner.__cause__
    text = str(inner).strip() or type(inner).__name__
    return redact(" ".join(text.split()))


async def migrate(settings: Settings) -> None:
    """Apply pending migrations to DATABASE_URL."""
    from db.engine import create_engine
    from db.migrate import upgrade

    url = settings.DATABASE_URL
    try:
        engine = create_engine(url)
    except OSError as exc:  # the SQLite folder cannot be created
        raise _database_failure(url, exc) or exc from None
    try:
        await upgrade(engine)
    except Exception as exc:
        failure = _database_failure(url, exc)
        if failure is None:
            raise
        raise failure from None
    finally:
        await engine.dispose()


async def check_buffer_store(settings: Settings) -> None:
    """Say, before logging in, whether the buffer store (Redis) answers, and what happens if not."""
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError
    from sqlalchemy.engine import make_url

    from bot.settings import redact

    if not settings.REDIS_URL:
        log.info("no REDIS_URL: counters wait in this process until they are flushed")
        return
    url = make_url(settings.REDIS_URL) if "://" in settings.REDIS_URL else None
    where = f"{url.host}:{url.port or 6379}" if url is not None and url.host else redact(settings.REDIS_URL)
    client = aioredis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_CHECK_TIMEOUT_S, socket_timeout=REDIS_CHECK_TIMEOUT_S
    )
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        log.warning(
            "Redis unreachable at %s (%s): starting anyway; counters stay in this process until it is back",
            where,
            _reason(exc),
        )
    else:
        log.info("buffer store: Redis at %s", where)
    finally:
        await client.aclose()


class Shutdown:
    """SIGTERM/SIGINT: cancel a login in progress, or close the connected bot (which flushes)."""

    def __init__(self) -> None:
        self.requested = False
        self.bot: discord.Client | None = None
        self.login: asyncio.Future[None] | None = None
        self.closing: list[asyncio.Task[Any]] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig.name)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)

    def _on_signal(self, signame: str) -> None:
        if self.requested:
            return
        self.requested = True
        if self.login is not None and not self.login.done():
            log.info("%s received while logging in: stopping", signame)
            self.login.cancel()
        elif self.bot is not None:
            log.info("%s received: flushing and shutting down", signame)
            self.closing.append(asyncio.get_running_loop().create_task(self.bot.close()))

    async def wait(self) -> None:
        """Until a close started by a signal is over."""
        if self.closing:
            await asyncio.gather(*self.closing, return_exceptions=True)


async def run(settings: Settings) -> None:
    """Migrate, check the buffer store, log in (bounded, retried), run until SIGTERM/SIGINT."""
    token = settings.token()
    if settings.DISCORD_API_URL:
        from bot.api_url import redirect_discord

        redirect_discord(settings.DISCORD_API_URL)
    await migrate(settings)
    await check_buffer_store(settings)
    presences = await _presence_wanted(settings)
    shutdown = Shutdown()
    shutdown.install()
    try:
        await _serve_with_retries(settings, token, presences, shutdown)
    finally:
        shutdown.remove()
        await shutdown.wait()


async def _serve_with_retries(settings: Settings, token: str, presences: bool, shutdown: Shutdown) -> None:
    """Serve; a login that cannot reach Discord is retried with backoff, then ends in one line."""
    timeout = settings.DISCORD_TIMEOUT_SECONDS
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        try:
            await _serve_once(settings, token, presences=presences, shutdown=shutdown)
            return
        except Unreachable as exc:
            if attempt == LOGIN_ATTEMPTS or shutdown.requested:
                raise Fatal(
                    f"{exc} (tried {attempt} times): check the network, DNS and firewall towards Discord"
                ) from None
            delay = min(2.0 ** (attempt - 1), timeout)
            log.warning("%s; retrying in %g s (attempt %d of %d)", exc, delay, attempt + 1, LOGIN_ATTEMPTS)
            await asyncio.sleep(delay)
            if shutdown.requested:
                return


async def _serve_once(settings: Settings, token: str, *, presences: bool, shutdown: Shutdown) -> None:
    """Serve, and once more without presence tracking if Discord refused the Presence intent."""
    import discord

    try:
        await serve(settings, token, presences=presences, shutdown=shutdown)
    except discord.PrivilegedIntentsRequired:
        if not presences:
            raise
        log.error(
            "presence tracking is enabled in some guilds, but Discord refused the Presence intent: "
            "enable it for the bot in the developer portal. Running without presence tracking."
        )
        await serve(settings, token, presences=False, shutdown=shutdown)


async def _presence_wanted(settings: Settings) -> bool:
    """Whether any guild enabled Rich Presence tracking (the intent is asked for only then)."""
    from db.engine import create_engine
    from db.guilds import presence_guilds

    engine = create_engine(settings.DATABASE_URL)
    try:
        return bool(await presence_guilds(engine))
    finally:
        await engine.dispose()


def _discord_host(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(settings.DISCORD_API_URL) if settings.DISCORD_API_URL else None
    return f"{url.host}:{url.port}" if url is not None and url.port else (url.host if url else None) or "discord.com"


async def _login(bot: discord.Client, token: str, settings: Settings) -> None:
    """``bot.login`` within DISCORD_TIMEOUT_SECONDS; a network failure or silence becomes Unreachable."""
    import aiohttp
    import discord

    host = _discord_host(settings)
    timeout = settings.DISCORD_TIMEOUT_SECONDS
    try:
        async with asyncio.timeout(timeout):
            await bot.login(token)
    except TimeoutError:
        raise Unreachable(f"Discord at {host} did not answer the login within {timeout:g} s") from None
    except aiohttp.ClientConnectorDNSError:
        raise Unreachable(f"cannot reach Discord: the DNS lookup of {host.split(':')[0]} failed") from None
    except aiohttp.ClientConnectorError as exc:
        why = exc.os_error.strerror or str(exc.os_error)
        raise Unreachable(f"cannot reach Discord at {host}: {why}") from None
    except (aiohttp.ClientConnectionError, OSError) as exc:
        raise Unreachable(f"cannot reach Discord at {host}: {type(exc).__name__}: {exc}") from None
    except discord.DiscordServerError as exc:
        raise Unreachable(f"Discord at {host} answered {exc.status}: it has trouble right now") from None
    except discord.HTTPException as exc:  # refused for another reason (a ban, a bad request): no retry
        raise Fatal(f"Discord at {host} refused the login ({exc.status}): {exc.text or 'no reason given'}") from None


async def serve(settings: Settings, token: str, *, presences: bool, shutdown: Shutdown | None = None) -> None:
    """One connection of the bot, until it is closed by a signal or fails."""
    import discord

    from bot.app import StatsBot

    shutdown = shutdown or Shutdown()
    bot = StatsBot(settings, presences=presences)
    shutdown.bot = bot
    try:
        async with bot:
            login = asyncio.ensure_future(_login(bot, token, settings))
            shutdown.login = login
            try:
                await login
            except asyncio.CancelledError:
                if shutdown.requested:  # SIGTERM while logging in: nothing to flush yet
                    return
                raise
            except Unreachable:
                if bot.storage_open:  # the bot was already set up: start afresh, not half-way
                    raise Fatal("Discord stopped answering while the bot was starting; start it again") from None
                raise
            finally:
                shutdown.login = None
            if shutdown.requested:
                return
            freeze_startup_heap()  # set up (cogs, storage, dashboard): keep that out of full collections
            await bot.connect()
    except discord.LoginFailure as exc:
        raise Fatal("DISCORD_TOKEN was rejected by Discord: check the token in the developer portal") from exc
    except discord.PrivilegedIntentsRequired as exc:
        if presences:
            raise
        raise Fatal(
            "Discord refused the privileged intents this bot needs (Server Members and Message Content): "
            "enable them for the bot in the developer portal"
        ) from exc
    finally:
        shutdown.bot = None


async def web(settings: Settings) -> None:
    """``python -m bot web``: the dashboard alone until SIGTERM/SIGINT (no gateway, no tracking)."""
    from bot.clock import system_clock
    from bot.web.oauth import oauth_config
    from bot.web.server import DashboardServer, make_dashboard
    from db.engine import create_engine, create_read_engine
    from db.reports import Reports, Snapshots
    from db.rollups import DayCloser

    engine = create_engine(settings.DATABASE_URL)
    # Pages and exports read DATABASE_READ_URL's replica when set; sign-in links and sessions are written
    # to the primary, and so is a day that a report has to close first.
    read_engine = create_read_engine(settings.DATABASE_READ_URL, engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        secret = settings.DASHBOARD_SECRET
        try:
            dashboard = await make_dashboard(
                engine,
                Reports(read_engine, Snapshots(), DayCloser(engine)),
                secret=None if secret is None else secret.get_secret_value(),
                base_url=settings.dashboard_url,
                clock=system_clock,
                oauth=oauth_config(settings),
            )
        except Exception as exc:
            if "dashboard_secret" in str(exc):
                raise Fatal("the database has no dashboard tables yet: run `python -m bot migrate` first") from exc
            failure = _database_failure(settings.DATABASE_URL, exc)
            if failure is not None:
                raise failure from exc
            raise
        server = DashboardServer(dashboard, settings.DASHBOARD_PORT or 8080)
        await server.start()
        freeze_startup_heap()
        print(f"dashboard at {settings.dashboard_url}", flush=True)
        try:
            await stop.wait()
        finally:
            await server.close()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if read_engine is not engine:
            await read_engine.dispose()
        await engine.dispose()


def parser() -> argparse.ArgumentParser:
    """The command line, with the environment variables in ``--help``."""
    width = max(len(name) for name, _ in ENVIRONMENT if len(name) < 30)
    env = "\n".join(
        f"  {name:<{width}}  {meaning}" if len(name) <= width else f"  {name}\n  {'':<{width}}  {meaning}"
        for name, meaning in ENVIRONMENT
    )
    top = argparse.ArgumentParser(
        prog="python -m bot",
        description="StatsBot: self-hosted activity analytics for Discord.",
        epilog=f"environment variables (also read from ./.env):\n{env}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"statsbot {VERSION}")
    sub = top.add_subparsers(dest="command", required=True, metavar="{run,migrate,web,demo}")
    sub.add_parser(
        "run",
        help="run the bot (needs DISCORD_TOKEN)",
        description="Apply pending migrations, check Redis, log in to Discord and track until SIGTERM or Ctrl-C, "
        "which push and flush everything held before exiting. Configured by the environment (python -m bot --help).",
    )
    sub.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply pending Alembic migrations to DATABASE_URL and exit (what `run` also does first).",
    )
    sub.add_parser(
        "web",
        help="serve the web dashboard alone (reads the database)",
        description="Serve the web dashboard on DASHBOARD_PORT (default 8080) from the database alone, for "
        "deployments with several gateway processes; it writes only its own sign-in links and sessions.",
    )
    demo = sub.add_parser(
        "demo",
        help="the real bot against a built-in offline Discord and a synthetic community",
        description="No token needed: start the built-in offline Discord with a synthetic community, run the real "
        "bot against it, invoke every slash command, let the scheduler post its reports, and write every image, "
        "embed and CSV with an index.md to --out. Ignores DATABASE_URL and REDIS_URL: uses a fresh SQLite file in "
        "--out unless --database (and --redis) are given.",
    )
    demo.add_argument(
        "--out", default="demo-output", type=Path, help="where to write the replies (default %(default)s)"
    )
    demo.add_argument("--seed", default=7, type=int, help="community seed: the same seed gives the same figures")
    demo.add_argument("--database", metavar="URL", help="a database for the demo (default: a new SQLite file in --out)")
    demo.add_argument("--redis", metavar="URL", help="a Redis for the demo's buffer (default: in the process)")
    demo.add_argument(
        "--serve",
        nargs="?",
        const=8080,
        type=int,
        metavar="PORT",
        help="keep the demo community and its dashboard running (on PORT, default 8080) and print a link",
    )
    return top


def _demo(args: argparse.Namespace) -> int:
    """``python -m bot demo``: found at run time, so that the bot imports nothing of it."""
    from bot import logs
    from bot.settings import SettingsError, load_settings

    try:
        level = load_settings().log_level
    except SettingsError:  # the demo uses none of the bot's variables: a bad one is not its problem
        level = logging.WARNING
    logs.configure(max(level, logging.WARNING))  # the progress bar is the output
    try:
        demo_main = importlib.import_module("demo.runner").main
    except ModuleNotFoundError as exc:
        print(f"error: the demo is not installed here ({exc.name} is missing)", file=sys.stderr)
        return 1
    extra = {} if args.serve is None else {"serve_port": args.serve}
    return int(demo_main(args.out, seed=args.seed, database_url=args.database, redis_url=args.redis, **extra))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it; the exit status."""
    args = parser().parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    from bot import logs
    from bot.settings import SettingsError, load_settings, redact

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.LOG_FORMAT)
    try:
        if args.command == "migrate":
            asyncio.run(migrate(settings))
            print(f"database at {_where(settings.DATABASE_URL)} is up to date")
        elif args.command == "web":
            asyncio.run(web(settings))
        else:
            asyncio.run(run(settings))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except Fatal as exc:
        if settings.LOG_FORMAT == "json":  # a log collector reads one format: the last line is a record too
            log.critical("error: %s", exc)
        else:
            print(f"error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
