"""Command line: ``python -m bot run | migrate | demo [--out DIR]``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from typing import Any

import discord
from sqlalchemy.engine import make_url

from bot import logs
from bot.settings import Settings, SettingsError, load_settings
from db.engine import create_engine
from db.errors import is_transient
from db.migrate import upgrade

log = logging.getLogger("bot")


class Fatal(Exception):
    """An error the user can fix; printed as one line, exit code 1."""


def _where(url: str) -> str:
    u = make_url(url)
    return u.database or "" if u.get_backend_name() == "sqlite" else f"{u.host}:{u.port or 5432}/{u.database}"


async def migrate(settings: Settings) -> None:
    """Apply pending migrations to DATABASE_URL."""
    engine = create_engine(settings.DATABASE_URL)
    try:
        await upgrade(engine)
    except Exception as exc:
        if is_transient(exc):
            raise Fatal(f"database unreachable at {_where(settings.DATABASE_URL)}: {exc}") from exc
        raise
    finally:
        await engine.dispose()


async def run(settings: Settings) -> None:
    """Migrate, connect, and run until SIGTERM/SIGINT; flush once more on the way out."""
    token = settings.token()
    if settings.DISCORD_API_URL:
        from bot.api_url import redirect_discord

        redirect_discord(settings.DISCORD_API_URL)
    await migrate(settings)
    presences = await _presence_wanted(settings)
    try:
        await serve(settings, token, presences=presences)
    except discord.PrivilegedIntentsRequired:
        if not presences:
            raise
        log.error(
            "presence tracking is enabled in some guilds, but Discord refused the Presence intent: "
            "enable it for the bot in the developer portal. Running without presence tracking."
        )
        await serve(settings, token, presences=False)


async def _presence_wanted(settings: Settings) -> bool:
    """Whether any guild enabled Rich Presence tracking (the intent is asked for only then)."""
    from db.guilds import presence_guilds

    engine = create_engine(settings.DATABASE_URL)
    try:
        return bool(await presence_guilds(engine))
    finally:
        await engine.dispose()


async def serve(settings: Settings, token: str, *, presences: bool) -> None:
    """One connection of the bot, until it is closed by a signal or fails."""
    from bot.app import StatsBot

    bot = StatsBot(settings, presences=presences)
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[Any]] = []

    def _stop(signame: str) -> None:
        if not closing:
            log.info("%s received: flushing and shutting down", signame)
            closing.append(loop.create_task(bot.close()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _stop, sig.name)
    try:
        async with bot:
            await bot.start(token)
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
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Discord activity analytics bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (needs DISCORD_TOKEN); applies pending migrations first")
    sub.add_parser("migrate", help="apply pending database migrations")
    demo = sub.add_parser("demo", help="run the real bot against a built-in offline Discord and a synthetic community")
    demo.add_argument("--out", default="demo-output", help="where to write the images, embeds and index.md")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "demo":
        from pathlib import Path

        # The demo is not the bot: it sits beside it (demo/, with the offline Discord in sandbox/)
        # and is found at run time, so that the bot imports nothing of it.
        try:
            demo_main = importlib.import_module("demo.runner").main
        except ModuleNotFoundError as exc:
            print(f"error: the demo is not installed here ({exc.name} is missing)", file=sys.stderr)
            return 1
        logs.configure(max(settings.log_level, logging.WARNING))  # the progress bar is the output
        return int(demo_main(Path(args.out)))
    logs.configure(settings.log_level)
    try:
        if args.command == "migrate":
            asyncio.run(migrate(settings))
            print(f"database at {_where(settings.DATABASE_URL)} is up to date")
        else:
            asyncio.run(run(settings))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except Fatal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
