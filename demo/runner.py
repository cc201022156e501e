"""``python -m bot demo``: the real bot against the sandbox and the synthetic community.

Steps: start the sandbox and build the community in it; start StatsBot in this
process (a fresh SQLite file in DIR unless ``--database`` is given; never the
environment's DATABASE_URL/REDIS_URL); configure the guild with ``/config``; run
``/backfill``; replay the live script while driving the bot's clock; let the bot's
scheduler post what fell due (the event-hour report after the live script, the weekly
summary at midnight); turn the mentor digest and nudges on, whose loops then send the
week's digest to the mentors and the due nudges by DM; invoke every synced slash command
with options from ``plan`` (activity roles on the recorded history among them);
write every reply (PNG, other files, embeds as JSON) and ``index.md`` into DIR.

Everything happens at a fixed date (``ANCHOR``), on the bot's clock and in the
sandbox's snowflakes alike, so that the same seed gives the same figures and images.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO
from zoneinfo import ZoneInfo

import discord
import redis.asyncio as aioredis
import sqlalchemy.exc as sa_exc
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from bot.api_url import redirect_discord
from bot.app import EXTENSIONS, StatsBot
from bot.buffer import BufferStore
from bot.clock import Clock
from bot.posts.posting import PostLoop
from bot.settings import load_settings, normalise_database_url, redact
from db.engine import create_engine
from db.errors import is_transient
from db.migrate import upgrade
from db.roles import list_rules
from demo.community import CUSTOM_EMOJIS, HISTORY_DAYS, Community, GroundTruth, build_community, ground_truth
from sandbox import (
    CustomEmoji,
    InteractionReply,
    SandboxChannel,
    SandboxDiscord,
    SandboxGuild,
    SandboxMember,
    SandboxRole,
    SandboxUser,
    StoredFile,
    StoredMessage,
)
from sandbox.state import SnowflakeMinter

log = logging.getLogger(__name__)

SEED: Final = 7
TIMEZONE: Final = "Europe/Berlin"
# The demo's event hour, named as an admin would name it: its reports carry the name.
EVENT_NAME: Final = "Evening study hall"
# Sunday 19:00 in Berlin: the live script is the week's last evening (with an event hour at its
# start), and the weekly summary falls due at the following midnight.
ANCHOR: Final = datetime(2026, 11, 22, 18, tzinfo=UTC)
# The guild is configured this long before the live script starts (the event is known by then).
CONFIGURED_BEFORE_S: Final = 600
# The scheduler's second pass: just after the weekly summary fell due (local midnight).
AFTER_DUE_S: Final = 60
REDIS_CHECK_TIMEOUT_S: Final = 5.0
REPLY_TIMEOUT_S: Final = 60.0
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
JOIN_ROUNDS: Final = 5
ATTACHMENT_BYTES: Final = b"\x89PNG\r\n\x1a\n demo attachment"
# Activity roles for /roles (below the bot's own role, which may manage roles, as Discord requires).
ROLE_REGULAR: Final = "Regular"
ROLE_EVENTS: Final = "Event Regular"
BOT_ROLE: Final = "StatsBot"
# The /config steps that run once the week is over (after the weekly summary), not before the backfill.
ACTING: Final = frozenset({"config digest", "config nudges", "config show"})
# A /dashboard link signs in once within minutes: the demo's files show its shape, not the token.
ONE_TIME_LINK: Final = re.compile(r"(/login/\d+/)[A-Za-z0-9_.=-]+")

Options = dict[str, Any]


class DemoClock:
    """The bot's clock: fixed at a given second while the script is replayed, else the wall clock."""

    def __init__(self) -> None:
        self.fixed: int | None = None

    def __call__(self) -> float:
        return float(self.fixed) if self.fixed is not None else time.time()

    def set(self, epoch_s: int) -> None:
        """Stop the clock at this second."""
        self.fixed = epoch_s

    def release(self) -> None:
        """Follow the wall clock again."""
        self.fixed = None


class DemoMinter(SnowflakeMinter):
    """The sandbox's snowflakes for "now" at the demo clock's time: ids and interaction hours are
    then the same in every run (and agree with the bot's clock)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def now(self) -> int:
        candidate = self.at(datetime.fromtimestamp(self.clock(), UTC))
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate


def use_demo_time(sb: SandboxDiscord, clock: Clock) -> None:
    """Mint the sandbox's snowflakes at the demo clock's time, the bot's own id (its application id) too.

    Call before the bot connects: its id was minted at the wall clock when the sandbox was made.
    """
    minter = DemoMinter(clock)
    sb.world.minter = minter
    me = sb.world.bot_user
    del sb.world.users[me.id]
    me.id = minter.at(datetime.fromtimestamp(clock(), UTC) - timedelta(days=400))
    sb.world.users[me.id] = me


class DemoError(Exception):
    """Something the demo cannot start without (its database, its Redis): one line, exit 1."""


class DemoBot(StatsBot):
    """StatsBot without discord.py's 5 s wait between shards (the sandbox has no identify limit),
    and without the image commands' cooldowns (the demo's script is faster than any member)."""

    command_cooldowns = False

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@dataclass(slots=True)
class World:
    """The community as built in the sandbox: sandbox objects by the community's keys."""

    guild: SandboxGuild
    users: dict[str, SandboxUser]
    channels: dict[str, SandboxChannel]
    roles: dict[str, SandboxRole]
    messages: dict[int, StoredMessage] = field(default_factory=dict)

    def member(self, key: str) -> SandboxMember:
        """The guild member behind a key."""
        return self.guild.members[self.users[key].id]

    def key_of_user(self) -> dict[int, str]:
        """Community keys by user id."""
        return {u.id: k for k, u in self.users.items()}

    def key_of_channel(self) -> dict[int, str]:
        """Community keys by channel id."""
        return {c.id: k for k, c in self.channels.items()}


def _when(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def _files(count: int, index: int) -> list[StoredFile]:
    return [StoredFile(f"notes-{index}-{i}.png", ATTACHMENT_BYTES) for i in range(count)]


def populate(sb: SandboxDiscord, community: Community) -> World:
    """Create the guild, roles, members, channels, invites and message history in the sandbox."""
    users = {m.key: sb.add_user(m.key, bot=m.bot) for m in community.members}
    owner = community.members[0].key
    guild = sb.add_guild(community.name, owner=users[owner])
    manage = discord.Permissions(manage_guild=True).value
    roles = {r: sb.add_role(guild, r, permissions=manage if r == "Admin" else 0) for r in community.roles}
    for name in (ROLE_REGULAR, ROLE_EVENTS):
        roles[name] = sb.add_role(guild, name)
    roles[BOT_ROLE] = sb.add_role(guild, BOT_ROLE, permissions=discord.Permissions(manage_roles=True).value)
    guild.members[sb.bot_user.id].role_ids.append(roles[BOT_ROLE].id)
    for m in community.members:
        if m.key in community.joiners:
            continue
        joined = _when(community.anchor - m.joined_days_ago * 86400)
        sb.add_member(guild, users[m.key], roles=[roles[r] for r in m.roles], joined_at=joined)
    channels: dict[str, SandboxChannel] = {}
    created = _when(community.anchor - 400 * 86400)
    for c in community.channels:
        if c.kind == "thread":
            assert c.parent is not None
            channels[c.key] = sb.add_thread(channels[c.parent], c.key, owner=users[owner], created_at=created)
            continue
        kind = {"text": discord.ChannelType.text, "forum": discord.ChannelType.forum}.get(
            c.kind, discord.ChannelType.voice
        )
        channels[c.key] = sb.add_channel(guild, c.key, kind=kind, afk=c.afk, created_at=created)
    for inv in community.invites:
        sb.add_invite(
            guild,
            channels[inv.channel],
            users[inv.inviter],
            code=inv.code,
            max_uses=inv.max_uses,
            created_at=_when(community.anchor - 5 * 86400),
        )
    world = World(guild, users, channels, roles)
    for h in community.history:
        world.messages[h.index] = sb.add_message(
            channels[h.channel],
            users[h.author],
            h.content,
            created_at=_when(h.at),
            attachments=_files(h.attachments, h.index),
            reply_to=None if h.reply_to is None else world.messages[h.reply_to],
        )
    return world


def _emoji(value: str) -> str | CustomEmoji:
    for name, emoji_id in CUSTOM_EMOJIS:
        if value == f"<:{name}:{emoji_id}>":
            return CustomEmoji(emoji_id, name)
    return value


async def replay(sb: SandboxDiscord, world: World, community: Community, clock: DemoClock) -> None:
    """Send the live script as gateway events, the bot's clock at each event's second."""
    guild = world.guild
    pending = False  # a clock-sensitive event was sent and may not be read yet
    for e in community.live:
        if pending and clock.fixed != e.at:
            await sb.barrier()  # the bot read it while the clock still showed its second
            pending = False
        clock.set(e.at)
        if e.kind == "message" and e.message is not None:
            m = e.message
            world.messages[m.index] = await sb.send_message(
                world.channels[m.channel],
                world.users[m.author],
                m.content,
                created_at=_when(m.at),
                attachments=_files(m.attachments, m.index),
                reply_to=None if m.reply_to is None else world.messages[m.reply_to],
            )
        elif e.kind == "reaction" and e.message_index is not None and e.emoji is not None:
            target = world.messages[e.message_index]
            await sb.add_reaction(target.channel_id, target.id, world.users[e.user], _emoji(e.emoji))
        elif e.kind == "voice":
            f = e.flags
            await sb.voice_update(
                guild,
                world.users[e.user],
                None if e.channel is None else world.channels[e.channel],
                self_mute=f.self_mute,
                self_deaf=f.self_deaf,
                self_stream=f.self_stream,
                self_video=f.self_video,
            )
            pending = True
        elif e.kind == "join":
            seen = len(sb.requests)
            await sb.member_join(guild, world.users[e.user], invite=e.invite, joined_at=_when(e.at))
            await _join_settled(sb, guild.id, seen)
            pending = True
        elif e.kind == "leave":
            await sb.member_leave(guild, world.users[e.user])
            pending = True
    await sb.barrier()


async def _join_settled(sb: SandboxDiscord, guild_id: int, seen: int, rounds: int = JOIN_ROUNDS) -> None:
    """Wait until the bot has looked at the invites again after a join (it compares use counts then).

    The clock must not move on before: an invite used up by the join is deleted, and the bot
    accepts it as the one used only for a short while after the deletion. Each round is a
    gateway round trip; a bot that never looks (no invite tracking loaded) costs ``rounds`` of them.
    """
    path = f"/guilds/{guild_id}/invites"
    for _ in range(rounds):
        await sb.barrier()
        if any(r.method == "GET" and r.path.endswith(path) and r.status for r in sb.requests[seen:]):
            await sb.barrier()  # the answer reached the bot before this round trip did
            return
    log.info("the bot did not look at the invites after a join in guild %s", guild_id)


async def backfill(sb: SandboxDiscord, world: World, admin: str, days: int = HISTORY_DAYS + 1) -> InteractionReply:
    """Run ``/backfill`` as an admin and wait until it reports that it finished."""
    result = await sb.invoke(world.guild, world.channels["general"], world.users[admin], "backfill", {"days": days})
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        await result.wait_until(lambda r: any("finished" in x.content for x in r.replies))
    return result.replies[-1]


@contextlib.asynccontextmanager
async def running_bot(
    sb: SandboxDiscord,
    database_url: str,
    redis_url: str | None,
    clock: Clock,
    extensions: Sequence[str],
    *,
    store: BufferStore | None = None,
    flush_interval: float | None = None,
    dashboard_port: int | None = None,
) -> AsyncIterator[DemoBot]:
    """The real bot in this process against the sandbox, ready; closed (with a final flush) after.

    ``store`` replaces the buffer store the settings would open (tests give one with a
    key prefix of their own); ``flush_interval`` overrides FLUSH_INTERVAL_SECONDS.
    """
    redirect_discord(sb.url)
    extra = {} if flush_interval is None else {"FLUSH_INTERVAL_SECONDS": flush_interval}
    # Everything that could reach a real deployment is given here, never taken from the environment.
    isolated: dict[str, object] = {
        "DATABASE_READ_URL": None,
        "REDIS_CLUSTER": False,
        "METRICS_PORT": None,
        "DASHBOARD_PORT": dashboard_port,
        "DASHBOARD_URL": None if dashboard_port is None else f"http://127.0.0.1:{dashboard_port}",
        "DASHBOARD_SECRET": None,
        "DASHBOARD_OAUTH_CLIENT_ID": None,
        "DASHBOARD_OAUTH_CLIENT_SECRET": None,
        "SHARD_COUNT": None,
        "SHARD_IDS": None,
    }
    settings = load_settings(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DISCORD_TOKEN=sb.token,
        DISCORD_API_URL=sb.url,
        **isolated,
        **extra,
    )
    bot = DemoBot(settings, extensions=extensions, clock=clock, store=store, render_processes=0)
    bot._connection.guild_ready_timeout = 0.05  # ready right after the last GUILD_CREATE
    task = asyncio.create_task(bot.start(sb.token), name="demo bot")
    try:
        ready = asyncio.ensure_future(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task.done():
                task.result()  # raise the start failure
            raise RuntimeError("the bot did not become ready within 30 s")
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def flush(bot: StatsBot) -> None:
    """Push and flush everything the bot holds."""
    await bot.pusher.drain()
    await bot.flusher.flush_once()


# -- the command plan ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    """One invocation: command path, who runs it (``admin``, ``member``, ``mentor``), options, reply kind.

    Option values ``@key`` are members, ``#key`` channels, ``&key`` roles, ``%key`` the activity-role
    rule of a role; ``quiet`` marks commands whose normal answer is ephemeral (settings, privacy,
    roles). ``/config`` steps run before the backfill, except those of ``ACTING`` (after the weekly
    summary: the digest and nudges are turned on once the week is over, then the settings shown).
    """

    path: str
    who: str
    options: Options
    quiet: bool = False


def plan(community: Community, top_member: str) -> list[Planned]:
    """Every slash command of the contract with sensible options; config first, privacy last."""
    local = _when(community.anchor).astimezone(ZoneInfo(TIMEZONE))
    start = local.strftime("%H:%M")
    steps = [
        Planned("config timezone", "admin", {"tz": TIMEZONE}, quiet=True),
        Planned("config report-channel", "admin", {"channel": "#reports"}, quiet=True),
        Planned("config mentor-role", "admin", {"role": "&Mentor"}, quiet=True),
        Planned(
            "config event",
            "admin",
            {
                "action": "add",
                "start": start,
                "minutes": 60,
                "days": "every day",
                "channels": "Study Room*",
                "name": EVENT_NAME,
            },
            quiet=True,
        ),
        Planned("config weekly", "admin", {"weekday": "Monday", "time": "00:00"}, quiet=True),
        Planned("config retention", "admin", {"days": 0}, quiet=True),
        Planned("config presence", "admin", {"enabled": False}, quiet=True),
        Planned("config digest", "admin", {"state": "on"}, quiet=True),
        Planned("config nudges", "admin", {"state": "on", "after_days": 7}, quiet=True),
        Planned("config show", "admin", {}, quiet=True),
        Planned("stats server", "member", {"period": "30d"}),
        Planned("stats user", "member", {"member": f"@{top_member}", "period": "30d"}),
        Planned("stats channel", "member", {"channel": "#general", "period": "30d"}),
    ]
    steps += [Planned("top", "member", {"metric": m, "period": "30d"}) for m in ("messages", "voice", "emojis")]
    steps += [Planned("top", "member", {"metric": m, "period": "30d"}) for m in ("invites", "commands")]
    steps += [
        Planned("emojis", "member", {"period": "30d"}),
        Planned("invites", "member", {"period": "30d"}),
        Planned("event report", "member", {"date": local.date().isoformat(), "start": start}),
        Planned("report weekly", "admin", {}),
        Planned("mentor card", "mentor", {"member": f"@{top_member}", "period": "30d"}),
        Planned("mentor watchlist", "mentor", {"period": "30d"}),
    ]
    steps += [
        Planned("export", "admin", {"dataset": d, "period": "30d"})
        for d in ("messages", "voice", "emojis", "apps", "invites")
    ]
    # Activity roles on the history just recorded: a threshold rule previewed and applied, a top rule removed.
    steps += [
        Planned(
            "roles add", "admin",
            {"role": f"&{ROLE_REGULAR}", "metric": "messages", "kind": "threshold", "value": 10, "days": 7},
            quiet=True,
        ),
        Planned(
            "roles add", "admin",
            {"role": f"&{ROLE_EVENTS}", "metric": "event_minutes", "kind": "top", "value": 3, "days": 7},
            quiet=True,
        ),
        Planned("roles list", "admin", {}, quiet=True),
        Planned("roles preview", "admin", {"rule": f"%{ROLE_REGULAR}"}, quiet=True),
        Planned("roles apply", "admin", {"rule": f"%{ROLE_REGULAR}"}, quiet=True),
        Planned("roles remove", "admin", {"rule": f"%{ROLE_EVENTS}"}, quiet=True),
        Planned("dashboard", "member", {}, quiet=True),
    ]  # fmt: skip
    steps += [
        Planned("privacy status", "member", {}, quiet=True),
        Planned("privacy export", "member", {}, quiet=True),
        Planned("privacy nudges", "member", {"state": "off"}, quiet=True),
        Planned("privacy optout", "member", {"mode": "hide"}, quiet=True),
        Planned("privacy optin", "member", {}, quiet=True),
    ]
    return steps


async def with_rules(bot: StatsBot, world: World, p: Planned) -> Planned:
    """``p`` with each ``%role`` option replaced by the number of that role's activity-role rule (left out if none)."""
    refs = {k: v[1:] for k, v in p.options.items() if isinstance(v, str) and v.startswith("%")}
    if not refs:
        return p
    by_role = {r.role_id: r.id for r in await list_rules(bot.engine, world.guild.id)}
    options = dict(p.options)
    for name, role in refs.items():
        rule = by_role.get(world.roles[role].id)
        if rule is None:
            del options[name]  # then the step says which option it lacks
        else:
            options[name] = rule
    return dataclasses.replace(p, options=options)


def synced_paths(sb: SandboxDiscord) -> dict[str, list[dict[str, Any]]]:
    """Every synced chat-input command path ("stats user") with its option schema."""
    out: dict[str, list[dict[str, Any]]] = {}

    def walk(prefix: str, options: list[dict[str, Any]]) -> None:
        subs = [o for o in options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if not subs:
            out[prefix] = options
        for o in subs:
            walk(f"{prefix} {o['name']}", list(o.get("options", [])))

    commands = list(sb.world.global_commands)
    for listed in sb.world.guild_commands.values():
        commands += listed
    for c in commands:
        if c.get("type", 1) == 1:
            walk(c["name"], list(c.get("options", [])))
    return out


def resolve_options(world: World, schema: list[dict[str, Any]], wanted: Options) -> tuple[Options, str | None]:
    """The options the synced schema accepts, with references resolved and choices matched; or why not."""
    out: Options = {}
    for spec in schema:
        name = spec["name"]
        if name not in wanted:
            if spec.get("required"):
                return {}, f"needs option {name!r}, which the demo plan does not give"
            continue
        value = wanted[name]
        if isinstance(value, str) and value[:1] in "@#&" and len(value) > 1:
            ref = value[1:]
            if value[0] == "@":
                value = world.member(ref)
            elif value[0] == "&":
                value = world.roles[ref]
            elif spec["type"] == 7:
                value = world.channels[ref]
        choices = spec.get("choices") or []
        if choices and all(value != c["value"] for c in choices):
            match = [c for c in choices if str(c["name"]).lower() == str(value).lower()]
            value = (match or choices)[0]["value"]
        out[name] = value
    return out, None


# -- steps and output ------------------------------------------------------------------------


@dataclass(slots=True)
class Step:
    """One line of the index: what ran, as whom, and what came back."""

    number: int
    title: str
    who: str = ""
    options: dict[str, str] = field(default_factory=dict)
    status: str = "ok"  # ok, answered, error, failed, skipped, not available
    note: str = ""
    figures: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    content: str = ""

    @property
    def slug(self) -> str:
        """The file name stem: ``NN-command-name``."""
        return f"{self.number:02d}-" + re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


class Progress:
    """A text progress bar on a stream (stderr), redrawn in place on a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.width = width

    def step(self, label: str) -> None:
        """Count one step done and draw the bar with its label."""
        self.done += 1
        if self.stream is None:
            return
        frac = min(1.0, self.done / max(1, self.total))
        filled = round(frac * self.width)
        bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label}"
        if self.stream.isatty():
            self.stream.write("\r\x1b[K" + bar[:120])
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(bar + "\n")
        self.stream.flush()


def _shown(options: Options) -> dict[str, str]:
    def one(v: Any) -> str:
        if isinstance(v, SandboxMember):
            return f"@{v.user.username}"
        if isinstance(v, SandboxChannel):
            return f"#{v.name}"
        if isinstance(v, SandboxRole):
            return f"@{v.name}"
        return str(v)

    return {k: one(v) for k, v in options.items()}


def write_replies(out: Path, step: Step, messages: Sequence[tuple[str, StoredMessage]]) -> None:
    """Write a step's files and one JSON of its messages (content, embeds, ephemeral, files, alt text)."""
    records: list[dict[str, Any]] = []
    pngs = 0
    for kind, message in messages:
        files: list[dict[str, Any]] = []
        for f in message.files:
            if f.filename.lower().endswith(".png"):
                pngs += 1
                name = f"{step.slug}.png" if pngs == 1 else f"{step.slug}-{pngs}.png"
            else:
                name = f"{step.slug}-{f.filename}"
            (out / name).write_bytes(f.data)
            step.files.append(name)
            files.append({"path": name, "filename": f.filename, "alt": f.description, "bytes": len(f.data)})
        for embed in message.embeds:
            step.figures += [(str(x.get("name", "")), str(x.get("value", ""))) for x in embed.get("fields", [])]
        records.append(
            {
                "reply": kind,
                "content": ONE_TIME_LINK.sub(r"\1<one-time token>", message.content),
                "ephemeral": message.ephemeral,
                "embeds": message.embeds,
                "files": files,
            }
        )
        step.content = step.content or ONE_TIME_LINK.sub(r"\1<one-time token>", message.content)
    payload = {"step": step.number, "command": step.title, "who": step.who, "options": step.options}
    (out / f"{step.slug}.json").write_text(json.dumps(payload | {"messages": records}, indent=2, ensure_ascii=False))
    step.files.append(f"{step.slug}.json")


def is_error(messages: Sequence[tuple[str, StoredMessage]]) -> bool:
    """An answer that is one ephemeral sentence with nothing else: the bot's error shape."""
    return bool(messages) and all(m.ephemeral and not m.embeds and not m.files for _k, m in messages)


@dataclass(slots=True)
class DemoResult:
    """What the demo did: its steps, the unexpected errors and where it wrote."""

    steps: list[Step]
    unexpected_errors: int
    out: Path
    seconds: float
    commands_found: list[str]
    progress: tuple[int, int] = (0, 0)  # steps counted, of the total announced at the start


@dataclass(frozen=True, slots=True)
class DemoServing:
    """The demo community while it is kept up: what a ``Serve`` hook may use (the dashboard, a browser test)."""

    sb: SandboxDiscord
    world: World
    bot: StatsBot
    who: dict[str, str]  # "admin", "mentor", "member" -> member key
    community: Community
    truth: GroundTruth

    async def dashboard_link(self, role: str = "admin") -> str:
        """A fresh link from the real ``/dashboard`` command, run by the member with that role."""
        result = await self.sb.invoke(
            self.world.guild, self.world.channels["general"], self.world.users[self.who[role]], "dashboard"
        )
        await result.final(timeout=REPLY_TIMEOUT_S)
        content = result.replies[-1].message.content
        found = re.search(r"https?://\S+", content)
        if found is None:
            raise DemoError(f"/dashboard did not answer with a link: {content!r}")
        return found.group(0)


@dataclass(frozen=True, slots=True)
class Serve:
    """Keep the demo up after its steps, with the dashboard on ``port``, while ``run`` runs."""

    port: int
    run: Callable[[DemoServing], Awaitable[None]]


async def serve_until_signal(serving: DemoServing) -> None:
    """``--serve``: print a working link to the demo's dashboard, another at each Enter, until Ctrl-C or SIGTERM."""
    stop = asyncio.Event()
    more = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reading = sys.stdin is not None and sys.stdin.isatty()

    def line() -> None:
        sys.stdin.readline()
        more.set()

    if reading:
        loop.add_reader(sys.stdin.fileno(), line)
    try:
        while not stop.is_set():
            link = await serving.dashboard_link("admin")
            sys.stdout.write(
                f"\nThe demo's dashboard is up; this link signs you in as the demo's admin (once, for 10 minutes):"
                f"\n  {link}\n" + ("Enter: another link. " if reading else "") + "Ctrl-C stops the demo.\n"
            )
            sys.stdout.flush()
            more.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(more.wait())]
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in pending:
                w.cancel()
    finally:
        if reading:
            loop.remove_reader(sys.stdin.fileno())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def invoke_step(
    sb: SandboxDiscord, world: World, step: Step, path: str, user: str, options: Options, out: Path
) -> list[tuple[str, StoredMessage]]:
    """Invoke one command, wait for its answer (and any follow-ups), write the replies."""
    result = await sb.invoke(world.guild, world.channels["general"], world.users[user], path, options)
    await result.final(timeout=REPLY_TIMEOUT_S)
    messages = [(r.kind, r.message) for r in result.replies]
    write_replies(out, step, messages)
    return messages


def bot_messages(sb: SandboxDiscord, world: World) -> set[int]:
    """The ids of every message the bot has sent so far: in the guild's channels and as DMs."""
    seen = {m.id for c in world.channels.values() for m in sb.messages_in(c, by_bot=True)}
    return seen | {m.id for u in world.users.values() for m in sb.dms_to(u)}


async def scheduler_pass(
    bot: StatsBot,
    sb: SandboxDiscord,
    world: World,
    out: Path,
    steps: list[Step],
    clock: DemoClock,
    at: int,
    *,
    before: set[int] | None = None,
) -> Step:
    """Move the clock to ``at`` and let every posting loop run a pass; write what it posted and sent.

    This is the bot's own scheduler (``PostLoop``): waking it is what a clock reaching a due
    time does, and the loop decides what is due, builds it and posts it (reports in #reports,
    the mentor digest, nudges by DM, activity roles). ``before``: the bot's messages before a
    step that already woke a loop (a setting turned on), so that what it sent counts here.
    """
    if before is None:
        before = bot_messages(sb, world)
    clock.set(at)
    local = _when(at).astimezone(ZoneInfo(TIMEZONE))
    step = Step(len(steps) + 1, f"scheduled posts at {local:%a %H:%M}", who="the bot's scheduler")
    steps.append(step)
    found = (getattr(cog, "loop", None) for _name, cog in sorted(bot.cogs.items()))
    loops = [loop for loop in found if isinstance(loop, PostLoop)]
    if not loops:
        step.status, step.note = "not available", "no scheduled reports in this build"
        return step
    try:
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            for loop in loops:
                await loop.run_once()
    except TimeoutError:
        step.status, step.note = "failed", f"the scheduler did not finish a pass within {REPLY_TIMEOUT_S:g} s"
        return step
    await sb.barrier()
    posted: list[tuple[str, StoredMessage]] = []
    kinds: list[str] = []
    for channel in world.channels.values():
        for m in sb.messages_in(channel, by_bot=True):
            # Replies to the demo's commands are the commands' steps, not the scheduler's.
            if m.id not in before and not (m.payload.get("interaction_metadata") or m.payload.get("interaction")):
                posted.append(("post", m))
                kinds.append(f"#{channel.name}: " + (m.embeds[0].get("title", "post") if m.embeds else "post"))
    for user in sorted(world.users.values(), key=lambda u: u.id):
        dms = [m for m in sb.dms_to(user) if m.id not in before]
        posted += [("dm", m) for m in dms]
        for m in dms:
            what = m.embeds[0].get("title", "message") if m.embeds else m.content.split("\n")[0][:60]
            kinds.append(f"DM to {user.global_name or user.username}: {what}")
    write_replies(out, step, posted)
    step.note = f"posted: {'; '.join(kinds)}" if posted else "nothing was due"
    return step


def prepare(out: Path, database_url: str | None) -> str:
    """Create ``out``, remove a previous run's files there; the database URL (a fresh SQLite file by default)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]-*"):
        old.unlink()
    if database_url is not None:
        return database_url
    db_file = out / "demo.sqlite3"
    for leftover in (db_file, db_file.with_name(db_file.name + "-wal"), db_file.with_name(db_file.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{db_file.resolve()}"


async def open_database(database_url: str) -> None:
    """Apply the migrations; a database that cannot be reached or written is one DemoError line."""
    where = _where(database_url)
    try:
        engine = create_engine(database_url)
    except OSError as exc:
        raise DemoError(f"cannot create the folder of the demo database {where}: {exc.strerror}") from None
    try:
        await upgrade(engine)
    except Exception as exc:
        if isinstance(exc, sa_exc.DBAPIError) or is_transient(exc):
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise DemoError(f"demo database unreachable at {where}: {redact(reason)}; check --database") from None
        raise
    finally:
        await engine.dispose()


async def check_redis(redis_url: str) -> None:
    """A Redis given with ``--redis`` must answer: the demo does not start without the Redis it was given."""
    client = aioredis.Redis.from_url(
        redis_url, socket_connect_timeout=REDIS_CHECK_TIMEOUT_S, socket_timeout=REDIS_CHECK_TIMEOUT_S
    )
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise DemoError(
            f"demo Redis unreachable at {_where(redis_url)} ({redact(' '.join(str(exc).split()))}): "
            "check --redis, or leave it out to keep the buffer in the process"
        ) from None
    finally:
        await client.aclose()


def _where(url: str) -> str:
    """Host, port and database of a URL (the file of a SQLite one), never its password."""
    try:
        u = make_url(url)
    except Exception:
        return redact(url)
    if u.get_backend_name() == "sqlite":
        return u.database or ":memory:"
    return f"{u.host}:{u.port}/{u.database}" if u.port else f"{u.host}/{u.database}"


# The demo's stages besides the planned commands, in order (each one step of the progress bar).
STAGES: Final = (
    "community built",
    "bot ready",
    "backfill",
    "live script replayed",
    "scheduler: event-hour report",
    "scheduler: weekly summary",
    "scheduler: mentor digest and nudges",
    "flushed",
    "index written",
)


async def run_demo(
    out: Path,
    *,
    seed: int = SEED,
    database_url: str | None = None,
    redis_url: str | None = None,
    stream: TextIO | None = sys.stderr,
    anchor: datetime = ANCHOR,
    serve: Serve | None = None,
) -> DemoResult:
    """The whole demo into ``out``; SQLite in ``out`` unless a database URL is given."""
    began = time.monotonic()
    if database_url is not None:
        database_url = normalise_database_url(database_url)
        if not database_url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise DemoError(
                f"--database {_where(database_url)}: use a postgresql:// (or postgres://) or sqlite+aiosqlite:/// URL"
            )
    if redis_url is not None:
        await check_redis(redis_url)
    database_url = prepare(out, database_url)
    await open_database(database_url)
    community = build_community(seed, anchor)
    truth = ground_truth(community)
    planned = plan(community, truth.member_messages().most_common(1)[0][0])
    configuring = [p for p in planned if p.path.startswith("config") and p.path not in ACTING]
    acting = [p for p in planned if p.path in ACTING]
    reporting = [p for p in planned if not p.path.startswith("config")]
    progress = Progress(len(STAGES) + len(planned), stream)
    clock = DemoClock()
    clock.set(community.anchor - CONFIGURED_BEFORE_S)
    steps: list[Step] = []
    errors = 0
    async with SandboxDiscord(bot_name="StatsBot") as sb:
        use_demo_time(sb, clock)
        world = populate(sb, community)
        progress.step("community built")
        # The demo flushes before each command instead of every few seconds of wall time, so that
        # each report sees exactly what came before it (the commands counted by /top commands too).
        port = None if serve is None else serve.port
        async with running_bot(
            sb, database_url, redis_url, clock, EXTENSIONS, flush_interval=3600, dashboard_port=port
        ) as bot:
            progress.step("bot ready")
            found = synced_paths(sb)
            admin, mentor = community.with_role("Admin")[0], community.with_role("Mentor")[0]
            member = next(k for k in community.humans() if k not in (admin, *community.with_role("Mentor")))
            who = {"admin": admin, "mentor": mentor, "member": member}
            for p in configuring:
                errors += await _planned_step(sb, world, out, steps, found, p, who, progress)
            step = Step(len(steps) + 1, "backfill", who=admin, options={"days": str(HISTORY_DAYS + 1)})
            steps.append(step)
            reply = await backfill(sb, world, admin)
            write_replies(out, step, [("final", reply.message)])
            progress.step("backfill")
            await replay(sb, world, community, clock)
            progress.step("live script replayed")
            end = max(e.at for e in community.live) + AFTER_DUE_S
            await scheduler_pass(bot, sb, world, out, steps, clock, end)
            progress.step("scheduler: event-hour report")
            await scheduler_pass(bot, sb, world, out, steps, clock, _next_local_midnight(end) + AFTER_DUE_S)
            progress.step("scheduler: weekly summary")
            # The week is over: turning the digest and nudges on wakes their loops, which send this week's
            # digest to the mentors and the due nudges at once; the pass after shows what they sent.
            sent_before = bot_messages(sb, world)
            for p in acting:
                await flush(bot)
                errors += await _planned_step(sb, world, out, steps, found, p, who, progress)
            await scheduler_pass(bot, sb, world, out, steps, clock, int(clock()), before=sent_before)
            progress.step("scheduler: mentor digest and nudges")
            for p in reporting:
                await flush(bot)
                p = await with_rules(bot, world, p)
                errors += await _planned_step(sb, world, out, steps, found, p, who, progress)
            await flush(bot)
            progress.step("flushed")
            if serve is not None:
                # The community and its dashboard stay up until the hook returns (``--serve``: a signal).
                await serve.run(DemoServing(sb, world, bot, who, community, truth))
        planned_paths = {p.path for p in planned}
        extra = sorted(set(found) - planned_paths - {"backfill"})
        for path in extra:
            steps.append(Step(len(steps) + 1, path, status="skipped", note="synced, but not in the demo plan"))
    result = DemoResult(steps, errors, out, time.monotonic() - began, sorted(found))
    write_index(out, result, community, truth, database_url)
    progress.step("index written")
    result.progress = (progress.done, progress.total)
    return result


def _next_local_midnight(epoch_s: int) -> int:
    """The first local midnight after ``epoch_s`` (in the demo's timezone)."""
    local = _when(epoch_s).astimezone(ZoneInfo(TIMEZONE))
    midnight = datetime.combine(local.date(), datetime.min.time(), local.tzinfo) + timedelta(days=1)
    return int(midnight.timestamp())


async def _planned_step(
    sb: SandboxDiscord,
    world: World,
    out: Path,
    steps: list[Step],
    found: dict[str, list[dict[str, Any]]],
    p: Planned,
    who: dict[str, str],
    progress: Progress,
) -> int:
    """Invoke one planned command and record it; 1 when it answered with an unexpected error."""
    step = Step(len(steps) + 1, " ".join([p.path, *(str(v) for v in p.options.values())][:3]))
    step.who = who[p.who]
    steps.append(step)
    schema = found.get(p.path)
    if schema is None:
        step.status, step.note = "not available", "not available in this build"
        progress.step(f"/{p.path} (not available)")
        return 0
    options, why = resolve_options(world, schema, p.options)
    step.options = _shown(options)
    if why is not None:
        step.status, step.note = "skipped", why
        progress.step(f"/{p.path} (skipped)")
        return 0
    error = 0
    try:
        messages = await invoke_step(sb, world, step, p.path, step.who, options, out)
    except Exception as exc:
        log.exception("/%s failed", p.path)
        step.status, step.note = "failed", f"{type(exc).__name__}: {exc}"
        error = 1
    else:
        if is_error(messages):
            step.status = "answered" if p.quiet else "error"
            error = 0 if p.quiet else 1
    progress.step(f"/{p.path}")
    return error


def write_index(out: Path, result: DemoResult, community: Community, truth: GroundTruth, database_url: str) -> None:
    """``index.md``: every step with its status, figures and files, and what was skipped."""
    voice_s = sum(sum(v for b, v in c.items() if b not in ("streaming_s", "video_s")) for c in truth.voice.values())
    lines = [
        "# StatsBot demo",
        "",
        f"Community *{community.name}* (seed {community.seed}): {len(community.members)} users, "
        f"{len(community.channels)} channels, {len(community.history):,} history messages, "
        f"{len(community.live)} live events; database `{_redact(database_url)}`; "
        f"finished in {result.seconds:.1f} s.",
        "",
        f"Ground truth: {sum(t.messages for t in truth.messages.values()):,} counted messages, "
        f"{voice_s // 60:,} voice minutes in the live script, {len(truth.joins)} joins via invites.",
        "",
        f"Commands found (synced by the bot): {', '.join(f'`/{c}`' for c in result.commands_found)}",
        "",
        "| # | step | as | options | status | figures | files |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in result.steps:
        opts = " ".join(f"{k}:{v}" for k, v in s.options.items())
        figures = "; ".join(f"{n}: {v}" for n, v in s.figures[:8])
        if s.status in ("answered", "error") and s.content:
            figures = s.content.replace("\n", " ")[:200]
        files = " ".join(f"[{f}]({f})" for f in s.files)
        status = s.status + (f" — {s.note}" if s.note else "")
        title = s.title if s.title.startswith("scheduled") else f"/{s.title}"
        lines.append(f"| {s.number} | `{title}` | {s.who} | {opts} | {status} | {_cell(figures)} | {files} |")
    missing = [s.title for s in result.steps if s.status == "not available"]
    lines += ["", "## Not available in this build", ""]
    lines += [f"- `/{t}`" for t in missing] or ["- none"]
    images = [f for s in result.steps for f in s.files if f.endswith(".png")]
    if images:
        lines += ["", "## Images", ""] + [f"![{f}]({f})" for f in images]
    (out / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cell(text: str) -> str:
    """Text that fits in one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " / ")


def _redact(url: str) -> str:
    return redact(url)


def main(
    out: Path,
    *,
    seed: int = SEED,
    database_url: str | None = None,
    redis_url: str | None = None,
    serve_port: int | None = None,
) -> int:
    """Run the demo (``python -m bot demo``): 0, or 1 after an unexpected error (said in one line).

    ``serve_port``: keep the community and its dashboard (on that port) up afterwards (``--serve``).
    """
    serve = None if serve_port is None else Serve(serve_port, serve_until_signal)
    try:
        result = asyncio.run(run_demo(out, seed=seed, database_url=database_url, redis_url=redis_url, serve=serve))
    except DemoError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    done, total = result.progress
    answered = sum(1 for s in result.steps if s.status == "ok")
    sys.stdout.write(
        f"demo finished: {done}/{total} steps in {result.seconds:.1f} s ({answered} commands and posts answered, "
        f"{result.unexpected_errors} unexpected errors; seed {seed}); see {out / 'index.md'}\n"
    )
    return 1 if result.unexpected_errors else 0
