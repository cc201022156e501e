"""The soak's machinery (``bench/soak.py`` runs it at size, ``test_soak.py`` at CI size).

The real bot process through the offline Discord, a seeded stream of known events, and faults.

It starts the sandbox Discord, a Redis server of its own (append-only file on, so it can be
restarted), a database (a SQLite file, or a scratch database on the TimescaleDB of
TEST_DATABASE_URL behind a TCP proxy that can be cut) and ``python -m bot run``. It sends
messages (emojis, replies, attachments), reactions, voice sessions by sub-state, joins,
leaves and other apps' commands, and between bursts injects faults: SIGKILL of the bot at a
random moment, during a flush (a frozen batch pending in Redis) and during a catch-up; a
stop with messages sent while down; Redis restarted; the database cut (PostgreSQL);
gateway disconnects that resume and invalid sessions that do not.

At the end it compares the tables with the ground truth and prints, per metric, events
offered, counted, lost and doubled; voice seconds lost per crash and invented; the faults
injected; the latency of live events during a large catch-up against the idle latency
measured in the same run (``flat`` makes the JSON line of the benchmark).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.buffer.keys import SINGLE, RedisKeys
from db import tables as t
from db.engine import create_engine
from db.series import VOICE_BUCKETS, hour_of
from sandbox import SandboxChannel, SandboxDiscord, SandboxUser, StoredFile, StoredMessage
from tests.e2e.harness import BotProcess, Bots, free_port, wait_until
from tests.e2e.stored import emoji_rows, message_rows
from tests.support.proxy import FlakyProxy

EMOJIS = ("🎉", "👍🏽", "<:blob:444444444444444001>", "<a:dance:444444444444444002>")
REACTIONS = ("🎉", "👍🏽", "🔥")
APP_COMMANDS = ("roll", "play", "ban")
# Voice seconds a bot may lose per crash (the contract's bound).
VOICE_LOSS_BOUND_S = 60
CATCH_UP_TIMEOUT_S = 240.0
# Messages per channel sent while the bot is down before a kill during catch-up (pages of 100).
CATCH_UP_BACKLOG = 400
# A member's voice state lasts at least this long (events come far faster than people change state).
VOICE_MIN_STATE_S = 4.0
# A barrier makes the client send a heartbeat, and discord.py allows 120 sends a minute: at
# most one barrier this often.
BARRIER_EVERY_S = 0.75


@dataclass
class SoakOptions:
    """Size, seed and storage of one soak run."""

    events: int = 3000
    kills: int = 4
    seed: int = 1
    postgres: bool = False
    # Messages sent while the bot is down for the live-latency measurement during a catch-up.
    catch_up_messages: int = 2000
    workdir: Path | None = None
    verbose: bool = True


@dataclass
class Flags:
    """A member's voice sub-state as the driver set it."""

    self_mute: bool = False
    self_deaf: bool = False
    self_stream: bool = False
    self_video: bool = False


@dataclass
class Truth:
    """What was sent, and when the bot process was alive, to compare the tables with."""

    messages: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    emojis: Counter[tuple[int, int, int, str, str]] = field(default_factory=Counter)
    messages_while_down: int = 0
    reactions_offered: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    reactions_delivered: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    apps_offered: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    apps_delivered: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    joins_offered: set[int] = field(default_factory=set)
    joins_delivered: set[int] = field(default_factory=set)
    # Members a (re)connecting bot found in the member list after they joined: their join is recoverable.
    joins_seen: set[int] = field(default_factory=set)
    leaves_offered: set[int] = field(default_factory=set)
    leaves_delivered: set[int] = field(default_factory=set)
    # user -> [(time, channel or None, flags)], in time order.
    voice: dict[int, list[tuple[float, int | None, Flags]]] = field(default_factory=dict)
    # The bot process's lifetimes [(from, to)]: voice outside them cannot be recorded.
    alive: list[tuple[float, float]] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)

    def message(self, m: StoredMessage, emojis: list[str]) -> None:
        key = (hour_of(discord.utils.snowflake_time(m.id).timestamp()), m.channel_id, m.author_id)
        row = self.messages.setdefault(key, [0, 0, 0, 0])
        row[0] += 1
        row[1] += len(m.content)
        row[2] += len(m.payload["attachments"])
        row[3] += m.payload.get("message_reference") is not None
        for e in emojis:
            self.emojis[(*key, e, "message")] += 1

    def total_messages(self) -> int:
        return sum(r[0] for r in self.messages.values())


def diff(truth: dict[Any, int], stored: dict[Any, int]) -> tuple[int, int]:
    """(lost, doubled): what the truth has and the store lacks, and what the store has beyond it."""
    lost = sum(max(0, n - stored.get(k, 0)) for k, n in truth.items())
    doubled = sum(max(0, n - truth.get(k, 0)) for k, n in stored.items())
    return lost, doubled


class OwnRedis:
    """A redis-server of the soak's own on a free loopback port, append-only file on, restartable."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        self.proc = await asyncio.create_subprocess_exec(
            exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        client = aioredis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    await client.ping()
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits (a restart, not a loss of data)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


class Soak:
    """One run: the world, the bot, the faults, the truth."""

    def __init__(self, opts: SoakOptions, sb: SandboxDiscord, bots: Bots, redis: OwnRedis, workdir: Path) -> None:
        self.opts = opts
        self.sb = sb
        self.bots = bots
        self.redis = redis
        self.rng = random.Random(opts.seed)
        self.truth = Truth()
        self.faults: Counter[str] = Counter()
        self.workdir = workdir
        self.bot: BotProcess | None = None
        self.bot_started_at = 0.0
        self.engine: AsyncEngine | None = None
        self.database_url = ""
        self.proxy: FlakyProxy | None = None
        self.sent = 0
        self.recent: dict[int, list[StoredMessage]] = {}
        self.latency_idle_ms: list[float] = []
        self.latency_catch_up_ms: list[float] = []
        self.catch_up_s = 0.0
        self.catch_up_recovered = 0
        self._last_barrier = 0.0
        self._build()

    # -- the world -----------------------------------------------------------------------------

    def _build(self) -> None:
        sb = self.sb
        guild = sb.add_guild("Soak", vanity_code="soak")
        self.guild = guild
        general = sb.add_channel(guild, "general")
        random_ = sb.add_channel(guild, "random")
        thread = sb.add_thread(general, "help")
        self.text: list[SandboxChannel] = [general, random_, thread]
        self.voice_channels = [
            sb.add_channel(guild, "Lounge", kind=discord.ChannelType.voice),
            sb.add_channel(guild, "Stage", kind=discord.ChannelType.voice),
        ]
        self.members: list[SandboxUser] = [sb.add_member(guild, f"m{i}").user for i in range(16)]
        self.app = sb.add_member(guild, "otherapp", bot=True).user
        self.joined = 0

    def connected(self) -> bool:
        return self.sb.gateway.connection_for(self.guild) is not None

    def log(self, text: str) -> None:
        if self.opts.verbose:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    # -- storage and the bot ---------------------------------------------------------------------

    async def open_storage(self) -> None:
        if self.opts.postgres:
            from tests.support.pg import ensure_database

            server = os.environ.get("TEST_DATABASE_URL") or os.environ.get("BENCH_DATABASE_URL")
            if not server:
                raise SystemExit("--postgres needs TEST_DATABASE_URL (set -a; . /tmp/svc.env)")
            url = await ensure_database(server, f"{sa.engine.make_url(server).database}_soak")
            self.engine = create_engine(url)
            async with self.engine.begin() as conn:
                await conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
                await conn.exec_driver_sql("CREATE SCHEMA public")
            u = sa.engine.make_url(url)
            self.proxy = await FlakyProxy(u.host or "127.0.0.1", u.port or 5432).start()
            self.database_url = u.set(host="127.0.0.1", port=self.proxy.port).render_as_string(hide_password=False)
        else:
            self.database_url = f"sqlite+aiosqlite:///{self.workdir / 'soak.db'}"
            self.engine = create_engine(self.database_url)

    def settings(self) -> dict[str, str | None]:
        return {
            "DISCORD_TOKEN": self.sb.token,
            "DISCORD_API_URL": self.sb.url,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "FLUSH_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "INFO",
        }

    async def start_bot(self) -> None:
        await wait_until(lambda: not self.sb.gateway.ready_connections(), "the previous gateway connection closed")
        self.bot = await self.bots.start(self.settings())
        await wait_until(self.sb.gateway.ready_connections, "the bot's gateway connection", timeout=60, bot=self.bot)
        # Voice can be recorded from the GUILD_CREATE on (it carries the voice states).
        self.bot_started_at = time.time()
        self.truth.joins_seen |= self.truth.joins_offered - self.truth.leaves_offered
        await self.barrier()

    def _alive_until(self, end: float) -> None:
        self.truth.alive.append((self.bot_started_at, end))

    async def kill_bot(self) -> None:
        assert self.bot is not None
        self.bot.kill()
        await self.bot.proc.wait()
        self.bot.kill_group()
        self._alive_until(time.time())
        self.truth.kills.append(time.time())
        self.bot = None
        self.faults["sigkill"] += 1

    async def stop_bot(self) -> None:
        assert self.bot is not None
        rc = await self.bot.terminate(timeout=60)
        self._alive_until(time.time())
        if rc != 0:
            raise self.bot.fail(f"bot exited with {rc} after SIGTERM")
        self.bot = None

    async def stored_total(self) -> int:
        assert self.engine is not None
        m = t.message_hourly
        async with self.engine.connect() as conn:
            n = await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(m.c.messages), 0)).where(m.c.guild_id == self.guild.id)
            )
        return int(n or 0)

    async def wait_all_counted(self, what: str, timeout: float = CATCH_UP_TIMEOUT_S) -> None:  # noqa: ASYNC109
        want = self.truth.total_messages()

        async def done() -> bool:
            return await self.stored_total() >= want

        await wait_until(done, what, timeout=timeout, bot=self.bot)

    # -- events ----------------------------------------------------------------------------------

    async def send_message(self, channel: SandboxChannel | None = None) -> StoredMessage:
        rng = self.rng
        channel = channel or rng.choice(self.text)
        author = rng.choice(self.members)
        emojis = [rng.choice(EMOJIS) for _ in range(rng.choice((0, 0, 1, 2)))]
        content = " ".join([f"m{self.sent}", *emojis])
        recent = self.recent.setdefault(channel.id, [])
        reply = rng.choice(recent) if recent and rng.random() < 0.15 else None
        files = [StoredFile("a.png", b"png")] if rng.random() < 0.1 else []
        if not self.connected():
            self.truth.messages_while_down += 1
        m = await self.sb.send_message(channel, author, content, reply_to=reply, attachments=files)
        self.truth.message(m, emojis)
        recent.append(m)
        del recent[:-20]
        self.sent += 1
        return m

    async def send_reaction(self) -> None:
        channel = self.rng.choice(self.text)
        recent = self.recent.get(channel.id)
        if not recent:
            await self.send_message(channel)
            return
        message, user, emoji = self.rng.choice(recent), self.rng.choice(self.members), self.rng.choice(REACTIONS)
        key = (channel.id, user.id, emoji)
        self.truth.reactions_offered[key] += 1
        if self.connected():
            self.truth.reactions_delivered[key] += 1
        await self.sb.add_reaction(channel, message.id, user, emoji)

    async def send_app_command(self) -> None:
        channel, user, name = (
            self.rng.choice(self.text[:2]),
            self.rng.choice(self.members),
            self.rng.choice(APP_COMMANDS),
        )
        key = (self.app.id, user.id, name)
        self.truth.apps_offered[key] += 1
        if self.connected():
            self.truth.apps_delivered[key] += 1
        await self.sb.send_message(
            channel,
            self.app,
            f"{name} result",
            application_id=str(self.app.id),
            interaction_metadata=self.sb.app_interaction_metadata(user, name),
            type=20,
        )

    async def send_voice(self) -> None:
        rng = self.rng
        user = rng.choice(self.members[:10])
        timeline = self.truth.voice.setdefault(user.id, [])
        if timeline and time.time() - timeline[-1][0] < VOICE_MIN_STATE_S:
            # Voice states last seconds, as people's do: the bot counts whole seconds.
            await self.send_message()
            return
        current = timeline[-1][1] if timeline else None
        if current is None:
            channel: int | None = rng.choice(self.voice_channels).id
            flags = Flags()
        else:
            roll = rng.random()
            flags = Flags(**vars(timeline[-1][2]))
            channel = current
            if roll < 0.3:
                channel, flags = None, Flags()
            elif roll < 0.45:
                channel = rng.choice(self.voice_channels).id
            else:
                which = rng.choice(("self_mute", "self_deaf", "self_stream", "self_video"))
                setattr(flags, which, not getattr(flags, which))
        timeline.append((time.time(), channel, flags))
        await self.sb.voice_update(self.guild, user, channel, **vars(flags))

    async def send_join_or_leave(self) -> None:
        if self.rng.random() < 0.6 or not self.truth.joins_offered - self.truth.leaves_offered:
            self.joined += 1
            member = await self.sb.member_join(self.guild, f"newcomer{self.joined}", vanity=True)
            self.truth.joins_offered.add(member.user.id)
            if self.connected():
                self.truth.joins_delivered.add(member.user.id)
            return
        user_id = sorted(self.truth.joins_offered - self.truth.leaves_offered)[0]
        self.truth.leaves_offered.add(user_id)
        if self.connected():
            self.truth.leaves_delivered.add(user_id)
        await self.sb.member_leave(self.guild, user_id)

    async def send_events(self, n: int) -> None:
        """``n`` events of the seeded mix; a barrier every 200 while connected (the client keeps up)."""
        rng = self.rng
        for i in range(n):
            roll = rng.random()
            if roll < 0.70:
                await self.send_message()
            elif roll < 0.82:
                await self.send_reaction()
            elif roll < 0.92:
                await self.send_voice()
            elif roll < 0.97:
                await self.send_app_command()
            else:
                await self.send_join_or_leave()
            if i % 200 == 199 and self.connected() and time.monotonic() - self._last_barrier > BARRIER_EVERY_S:
                await self.barrier()

    async def barrier(self) -> None:
        """Wait until the client parsed everything sent so far (spaced out: see BARRIER_EVERY_S)."""
        wait = BARRIER_EVERY_S - (time.monotonic() - self._last_barrier)
        if wait > 0:
            await asyncio.sleep(wait)
        await self.sb.barrier(timeout=30)
        self._last_barrier = time.monotonic()

    async def latency_ms(self) -> float:
        """One live event's latency: dispatch to parsed by the client (a barrier round trip)."""
        wait = BARRIER_EVERY_S - (time.monotonic() - self._last_barrier)
        if wait > 0:
            await asyncio.sleep(wait)
        started = time.perf_counter()
        await self.sb.barrier(timeout=30)
        self._last_barrier = time.monotonic()
        return (time.perf_counter() - started) * 1000

    # -- faults ----------------------------------------------------------------------------------

    async def fault_kill_random(self, burst: int) -> None:
        """A burst, then SIGKILL after a random moment: the last messages are only in history."""
        await self.send_events(burst)
        await asyncio.sleep(self.rng.uniform(0.0, 1.5))
        await self.kill_bot()
        await self.send_events(self.rng.randint(5, 40))  # while down
        await self.start_bot()

    async def fault_kill_during_flush(self, burst: int) -> None:
        """SIGKILL while a frozen batch is pending in Redis (a flush under way)."""
        keys = RedisKeys()
        client = aioredis.from_url(self.redis.url)
        try:
            await self.send_events(burst)
            deadline = time.monotonic() + 10
            # Polling another process's state: there is no event to wait on.
            while time.monotonic() < deadline and not await client.zcard(keys.pending(SINGLE)):  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            self.faults[
                "sigkill_during_flush" if await client.zcard(keys.pending(SINGLE)) else "sigkill_flush_missed"
            ] += 1
        finally:
            await client.aclose()
        await self.kill_bot()
        await self.start_bot()

    async def fault_kill_during_catch_up(self) -> None:
        """Stop, a backlog of several pages per channel while down, start, SIGKILL midway through its import."""
        await self.stop_bot()
        before = await self.stored_total()
        for channel in self.text:
            for _ in range(CATCH_UP_BACKLOG):
                await self.send_message(channel)
        total = self.truth.total_messages()
        # Slow history answers, so the crash comes in the middle of the import.
        for channel in self.text:
            self.sb.rate_limit(f"/channels/{channel.id}/messages", times=3, retry_after=0.5)
        await self.start_bot()

        async def midway() -> bool:
            return before < await self.stored_total() < total

        try:
            await wait_until(midway, "the catch-up under way", timeout=60, bot=self.bot)
            self.faults["sigkill_during_catch_up"] += 1
        except AssertionError:
            self.faults["sigkill_catch_up_missed"] += 1
        await self.kill_bot()
        self.sb.recorder.rules.clear()
        await self.start_bot()

    async def fault_stop_with_downtime(self, burst: int) -> None:
        """SIGTERM, messages (and everything else) while down, start again."""
        await self.stop_bot()
        self.faults["stop_with_downtime"] += 1
        await self.send_events(burst)
        await self.start_bot()

    async def fault_redis_restart(self, burst: int) -> None:
        """Redis stopped and started again on its append-only file while events keep coming."""
        await self.redis.stop()
        self.faults["redis_restart"] += 1
        await self.send_events(burst)
        await asyncio.sleep(1.0)
        await self.redis.start()

    async def fault_database_outage(self, burst: int) -> None:
        """The database unreachable for a few seconds (PostgreSQL behind the proxy)."""
        if self.proxy is None:
            return
        self.proxy.down()
        self.faults["database_outage"] += 1
        await self.send_events(burst)
        await asyncio.sleep(3.0)
        self.proxy.up()

    async def fault_resume(self, burst: int) -> None:
        """The gateway connection drops and resumes; events sent meanwhile are replayed on RESUME."""
        self.faults["gateway_resume"] += 1
        reconnect = asyncio.create_task(self.sb.reconnect(timeout=30))
        await self.send_events(min(burst, 50))
        await reconnect

    async def fault_invalid_session(self, burst: int) -> None:
        """A new session that never gets what was sent in between (history only)."""
        self.faults["invalid_session"] += 1

        async def meanwhile() -> None:
            await self.send_events(min(burst, 60))

        await self.sb.invalidate_session(meanwhile=meanwhile, timeout=60)
        await self.barrier()

    # -- the run ---------------------------------------------------------------------------------

    def plan(self) -> list[str]:
        """The faults in a seeded order: the kills spread over the kinds, each other kind at least once."""
        kills = self.opts.kills
        kinds = ["kill_random", "kill_during_flush", "kill_during_catch_up"]
        faults = [kinds[i % len(kinds)] for i in range(kills)]
        others = ["stop_with_downtime", "redis_restart", "resume", "invalid_session"]
        if self.opts.postgres:
            others.append("database_outage")
        rounds = max(len(others), kills // 2)
        faults += [others[i % len(others)] for i in range(rounds)]
        self.rng.shuffle(faults)
        return faults

    async def measure_catch_up_latency(self) -> None:
        """Idle live-event latency, then the same during the catch-up of a large backlog."""
        for _ in range(8):
            self.latency_idle_ms.append(await self.latency_ms())
        await self.stop_bot()
        self.faults["stop_with_downtime"] += 1
        before = self.truth.total_messages()
        for i in range(self.opts.catch_up_messages):
            await self.send_message(self.text[i % 2])
        await self.start_bot()
        started = time.monotonic()
        want = self.truth.total_messages()
        while await self.stored_total() < want:
            if time.monotonic() - started > CATCH_UP_TIMEOUT_S:
                raise AssertionError("the large catch-up did not finish")
            await self.send_message()  # a live message during the catch-up
            want += 1
            self.latency_catch_up_ms.append(await self.latency_ms())
        self.catch_up_s = time.monotonic() - started
        self.catch_up_recovered = want - before - len(self.latency_catch_up_ms)

    async def run(self) -> None:
        await self.open_storage()
        await self.redis.start()
        await self.start_bot()
        faults = self.plan()
        per_round = max(20, self.opts.events // (len(faults) + 2))
        await self.send_events(per_round)
        await self.measure_catch_up_latency()
        for n, fault in enumerate(faults, 1):
            burst = self.rng.randint(per_round // 2, per_round * 3 // 2)
            self.log(f"round {n}/{len(faults)}: {fault} after {self.sent} events")
            if fault == "kill_during_catch_up":
                await self.send_events(burst)
                await self.fault_kill_during_catch_up()
            elif fault == "kill_random":
                await self.fault_kill_random(burst)
            elif fault == "kill_during_flush":
                await self.fault_kill_during_flush(burst)
            else:
                await self.send_events(burst // 2)
                action: Callable[[int], Awaitable[None]] = getattr(self, f"fault_{fault}")
                await action(burst - burst // 2)
        # Catch-up of everything, then a clean stop flushes what is left.
        await self.send_events(per_round // 2)
        await self.barrier()
        await self.wait_all_counted("every message counted at the end")
        await asyncio.sleep(2.0)  # reactions, voice and joins of the last burst reach a flush
        await self.stop_bot()
        if self.proxy is not None:
            self.proxy.up()


# -- comparison -------------------------------------------------------------------------------


def bucket_of(flags: Flags, *, alone: bool) -> str:
    """The contract's voice bucket: deafened, else muted, else alone, else active."""
    if flags.self_deaf:
        return "deafened_s"
    if flags.self_mute:
        return "muted_s"
    return "alone_s" if alone else "active_s"


def voice_truth(truth: Truth) -> tuple[dict[tuple[int, str], float], Counter[int], Counter[int]]:
    """True voice seconds per (member, bucket) while the bot process was alive; bucket and session boundaries.

    The bot counts whole seconds of its own clock at each change: a bucket's total may differ
    from the truth by a second at each of its boundaries (``boundaries``: any change in the
    member's channels), a member's total by a second at each of the member's own joins,
    leaves and alive-window edges (``sessions``), never more.
    """
    changes = sorted((at, user, ch, flags) for user, tl in truth.voice.items() for at, ch, flags in tl)
    state: dict[int, tuple[int | None, Flags]] = {}
    seconds: dict[tuple[int, str], float] = {}
    boundaries: Counter[int] = Counter()
    sessions: Counter[int] = Counter()
    alive = sorted(truth.alive)
    starts = [a for a, _ in alive]

    def alive_overlap(a: float, b: float) -> float:
        total = 0.0
        i = max(0, bisect.bisect_right(starts, a) - 1)
        for lo, hi in alive[i:]:
            if lo >= b:
                break
            total += max(0.0, min(hi, b) - max(lo, a))
        return total

    end = max([b for _a, b in alive] + [c[0] for c in changes] + [0.0])
    times = [c[0] for c in changes] + [end]
    for i, (at, user, ch, flags) in enumerate(changes):
        old = state.get(user)
        state[user] = (ch, flags)
        if (old[0] if old else None) != ch:
            sessions[user] += 1
        # A change of one member can change another's bucket (alone): everyone in both channels.
        touched = {ch, old[0] if old else None} - {None}
        for other, (och, _f) in state.items():
            if och in touched:
                boundaries[other] += 1
        span = alive_overlap(at, times[i + 1])
        if span <= 0:
            continue
        for member, (mch, mf) in state.items():
            if mch is None:
                continue
            others = sum(1 for o, (oc, _f) in state.items() if o != member and oc == mch)
            bucket = bucket_of(mf, alone=others == 0)
            for b in (bucket, "streaming_s" if mf.self_stream else "", "video_s" if mf.self_video else ""):
                if b:
                    seconds[(member, b)] = seconds.get((member, b), 0.0) + span
    # A second at each edge of an alive window for whoever is in voice then.
    for lo, hi in alive:
        for member in in_voice_at(truth, lo) | in_voice_at(truth, hi):
            sessions[member] += 1
    return seconds, boundaries, sessions


def in_voice_at(truth: Truth, at: float) -> set[int]:
    """The members in a voice channel at ``at``."""
    out = set()
    for member, timeline in truth.voice.items():
        i = bisect.bisect_right([c[0] for c in timeline], at) - 1
        if i >= 0 and timeline[i][1] is not None:
            out.add(member)
    return out


async def stored_voice(engine: AsyncEngine, guild_id: int) -> dict[tuple[int, str], int]:
    v = t.voice_hourly
    cols = (*VOICE_BUCKETS, "streaming_s", "video_s")
    stmt = sa.select(v.c.user_id, *(sa.func.sum(v.c[c]) for c in cols)).where(v.c.guild_id == guild_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.group_by(v.c.user_id))).all()
    return {(int(r[0]), c): int(r[i + 1] or 0) for r in rows for i, c in enumerate(cols)}


async def stored_counter(engine: AsyncEngine, stmt: sa.Select[Any]) -> Counter[Any]:
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    out: Counter[Any] = Counter()
    for *key, n in rows:
        out[tuple(int(k) if isinstance(k, int) else k for k in key)] += int(n)
    return out


async def compare(soak: Soak) -> dict[str, Any]:
    """Per metric: offered, counted, lost, doubled; voice seconds lost per crash and invented."""
    engine, truth, gid = soak.engine, soak.truth, soak.guild.id
    assert engine is not None
    out: dict[str, Any] = {}
    stored_msgs = await message_rows(engine, gid)
    for i, name in enumerate(("messages", "characters", "attachments", "replies")):
        want = {k: v[i] for k, v in truth.messages.items()}
        got = {k: v[i] for k, v in stored_msgs.items()}
        lost, doubled = diff(want, got)
        out[name] = {"offered": sum(want.values()), "counted": sum(got.values()), "lost": lost, "doubled": doubled}
    out["messages"]["sent_while_down"] = truth.messages_while_down
    emojis = await emoji_rows(engine, gid)
    msg_emojis = {k: n for k, n in emojis.items() if k[4] == "message"}
    lost, doubled = diff(dict(truth.emojis), msg_emojis)
    out["message_emojis"] = {
        "offered": sum(truth.emojis.values()),
        "counted": sum(msg_emojis.values()),
        "lost": lost,
        "doubled": doubled,
    }
    reactions: Counter[tuple[int, int, str]] = Counter()
    for (_h, ch, u, e, kind), n in emojis.items():
        if kind == "reaction":
            reactions[(ch, u, e)] += n
    lost, _ = diff(dict(truth.reactions_delivered), dict(reactions))
    _, doubled = diff(dict(truth.reactions_offered), dict(reactions))
    out["reactions"] = {
        "offered": sum(truth.reactions_offered.values()),
        "delivered_live": sum(truth.reactions_delivered.values()),
        "counted": sum(reactions.values()),
        "lost": lost,
        "doubled": doubled,
    }
    a = t.app_hourly
    apps = await stored_counter(
        engine,
        sa.select(a.c.application_id, a.c.user_id, a.c.command, sa.func.sum(a.c.count))
        .where(a.c.guild_id == gid)
        .group_by(a.c.application_id, a.c.user_id, a.c.command),
    )
    lost, _ = diff(dict(truth.apps_delivered), dict(apps))
    _, doubled = diff(dict(truth.apps_offered), dict(apps))
    out["app_commands"] = {
        "offered": sum(truth.apps_offered.values()),
        "delivered_live": sum(truth.apps_delivered.values()),
        "counted": sum(apps.values()),
        "lost": lost,
        "doubled": doubled,
    }
    j = t.member_joins
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(j.c.user_id, j.c.left_at).where(j.c.guild_id == gid))).all()
    join_rows = Counter(int(u) for u, _l in rows)
    left = {int(u) for u, at in rows if at is not None}
    out["joins"] = {
        "offered": len(truth.joins_offered),
        "delivered_live": len(truth.joins_delivered),
        "counted": len(join_rows),
        "lost": len(truth.joins_offered - set(join_rows)),
        "seen_by_a_bot": len(truth.joins_seen),
        "lost_of_seen": len(truth.joins_seen - set(join_rows)),
        "doubled": sum(n - 1 for n in join_rows.values()) + len(set(join_rows) - truth.joins_offered),
    }
    out["leaves"] = {
        "offered": len(truth.leaves_offered),
        "delivered_live": len(truth.leaves_delivered),
        "counted": len(left),
        "lost": len(truth.leaves_offered - left),
        "doubled": len(left - truth.leaves_offered),
    }
    want_v, boundaries, sessions = voice_truth(truth)
    got_v = await stored_voice(engine, gid)
    invented = lost_s = 0.0
    worst_per_crash = 0.0
    per_member: dict[int, tuple[float, float]] = {}
    for key in set(want_v) | set(got_v):
        member, bucket = key
        tolerance = boundaries[member] + 1  # whole seconds at each state change, on both clocks
        w, g = want_v.get(key, 0.0), float(got_v.get(key, 0))
        invented += max(0.0, g - w - tolerance)
        if bucket in VOICE_BUCKETS:
            tw, tg = per_member.get(member, (0.0, 0.0))
            per_member[member] = (tw + w, tg + g)
    for member, (w, g) in per_member.items():
        # A member's total against the truth: a second of allowance per session edge only.
        invented += max(0.0, g - w - sessions[member])
        # Lost time is counted raw (no rounding allowance): the bound of 60 s a crash is far above it.
        loss = max(0.0, w - g)
        lost_s += loss
        crashes = sum(1 for at in truth.kills if member in in_voice_at(truth, at))
        worst_per_crash = max(worst_per_crash, loss / max(1, crashes))
    out["voice"] = {
        "true_seconds_while_alive": round(sum(w for w, _g in per_member.values())),
        "counted_seconds": int(sum(g for _w, g in per_member.values())),
        "lost_seconds": round(lost_s),
        "lost_seconds_per_crash_per_member_max": round(worst_per_crash, 1),
        "invented_seconds": round(invented),
    }
    return out


def events_offered(result: dict[str, Any], soak: Soak) -> int:
    """Every event the run sent: messages, reactions, app commands, joins, leaves, voice state changes."""
    kinds = ("messages", "reactions", "app_commands", "joins", "leaves")
    return sum(int(result[k]["offered"]) for k in kinds) + sum(len(tl) for tl in soak.truth.voice.values())


def print_report(result: dict[str, Any], soak: Soak, elapsed: float) -> None:
    print(
        f"\nsoak: seed {soak.opts.seed}, {events_offered(result, soak)} events offered "
        f"({soak.sent} messages, {sum(len(tl) for tl in soak.truth.voice.values())} voice state changes) "
        f"in {elapsed:.0f} s"
    )
    print(f"{'metric':<16}{'offered':>10}{'live':>10}{'counted':>10}{'lost':>8}{'doubled':>9}")
    for name in (
        "messages",
        "characters",
        "attachments",
        "replies",
        "message_emojis",
        "reactions",
        "app_commands",
        "joins",
        "leaves",
    ):
        r = result[name]
        live = r.get("delivered_live", "")
        print(f"{name:<16}{r['offered']:>10}{live!s:>10}{r['counted']:>10}{r['lost']:>8}{r['doubled']:>9}")
    print(f"messages sent while the bot was down or disconnected: {result['messages']['sent_while_down']}")
    v = result["voice"]
    print(
        f"voice: {v['true_seconds_while_alive']} s true while alive, {v['counted_seconds']} s counted, "
        f"{v['lost_seconds']} s lost ({v['lost_seconds_per_crash_per_member_max']} s per crash per member at most), "
        f"{v['invented_seconds']} s invented"
    )
    j = result["joins"]
    print(f"joins of members a (re)connecting bot found in the list: {j['seen_by_a_bot']}, lost {j['lost_of_seen']}")
    print("faults: " + ", ".join(f"{k} {n}" for k, n in sorted(soak.faults.items())))
    idle = statistics.median(soak.latency_idle_ms) if soak.latency_idle_ms else 0.0
    during = soak.latency_catch_up_ms
    if during:
        p50 = statistics.median(during)
        p99 = sorted(during)[min(len(during) - 1, int(len(during) * 0.99))]
        print(
            f"catch-up of {soak.catch_up_recovered} messages in {soak.catch_up_s:.1f} s "
            f"({soak.catch_up_recovered / max(soak.catch_up_s, 1e-9):.0f} messages/s); live event latency "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms during it vs {idle:.1f} ms idle (ratio {p50 / max(idle, 1e-9):.2f})"
        )


def flat(result: dict[str, Any], soak: Soak, elapsed: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seed": soak.opts.seed,
        "duration_s": round(elapsed, 1),
        "events_offered_total": events_offered(result, soak),
    }
    for name, r in result.items():
        for k, v in r.items():
            unit = "s" if name == "voice" else "events"
            key = f"{name}_{k}" if k.endswith(("_s", "seconds", "_max")) else f"{name}_{k}_{unit}"
            out[key] = v
    for k, n in soak.faults.items():
        out[f"faults_{k}_count"] = n
    if soak.latency_catch_up_ms:
        out["live_latency_idle_p50_ms"] = round(statistics.median(soak.latency_idle_ms), 2)
        out["live_latency_catch_up_p50_ms"] = round(statistics.median(soak.latency_catch_up_ms), 2)
        out["live_latency_catch_up_max_ms"] = round(max(soak.latency_catch_up_ms), 2)
        out["catch_up_messages_per_s"] = round(soak.catch_up_recovered / max(soak.catch_up_s, 1e-9), 1)
    return out


async def run_soak(opts: SoakOptions) -> tuple[dict[str, Any], Soak, float]:
    """Run one soak; returns the comparison, the run (its faults and truth) and its duration."""
    own_dir = opts.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="statsbot-soak-")) if opts.workdir is None else opts.workdir
    started = time.monotonic()
    redis = OwnRedis(workdir)
    bots = Bots(workdir)
    soak: Soak | None = None
    try:
        async with SandboxDiscord() as sb:
            soak = Soak(opts, sb, bots, redis, workdir)
            try:
                await soak.run()
            except BaseException:
                print(bots.tails(), file=sys.stderr)
                raise
            result = await compare(soak)
            return result, soak, time.monotonic() - started
    finally:
        await bots.close()
        await redis.stop()
        if soak is not None:
            if soak.proxy is not None:
                await soak.proxy.close()
            if soak.engine is not None:
                await soak.engine.dispose()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
