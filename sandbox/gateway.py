"""The sandbox's gateway: HELLO, IDENTIFY/RESUME, READY, GUILD_CREATE, heartbeats and dispatches."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.payloads import JSON, guild_create_payload, member_payload, user_payload
from sandbox.state import SandboxGuild, World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    8,
    9,
    10,
    11,
)
AUTHENTICATION_FAILED = 4004


class GatewayConnection:
    """One client websocket: its shard, the sequence numbers sent and seen, and its barrier."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.shard_id = 0
        self.shard_count = 1
        self.intents = 0
        self.session_id = ""
        self.seq = 0
        self.client_seq = 0
        self.ready = False
        self.closed = False
        # While the client is asked to RESUME: the session's events, replayed on RESUME as Discord does.
        self.backlog: list[tuple[str, JSON]] | None = None
        self._send_lock = asyncio.Lock()
        self._seen = asyncio.Condition()

    def owns(self, guild: SandboxGuild) -> bool:
        """Whether a guild's events go to this connection's shard."""
        return guild.shard_id(self.shard_count) == self.shard_id

    async def send_op(self, op: int, data: Any) -> None:
        """Send a non-dispatch frame (HELLO, heartbeat request, ACK, INVALID_SESSION)."""
        async with self._send_lock:
            await self.ws.send_str(json.dumps({"op": op, "d": data, "s": None, "t": None}))

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send an event with this connection's next sequence number and return that number."""
        async with self._send_lock:
            self.seq += 1
            frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
            await self.ws.send_str(json.dumps(frame))
            return self.seq

    async def heartbeat_received(self, seq: int | None) -> None:
        """Note the sequence the client has parsed up to and answer with HEARTBEAT_ACK."""
        async with self._seen:
            self.client_seq = max(self.client_seq, seq or 0)
            self._seen.notify_all()
        await self.send_op(HEARTBEAT_ACK, None)

    async def mark_closed(self) -> None:
        """Release every barrier waiting on this connection."""
        async with self._seen:
            self.closed = True
            self._seen.notify_all()

    async def barrier(self) -> None:
        """Ask for a heartbeat (op 1) and wait until the client has parsed every event sent so far."""
        target = self.seq
        await self.send_op(HEARTBEAT, None)
        async with self._seen:
            await self._seen.wait_for(lambda: self.closed or self.client_seq >= target)


class Gateway:
    """The websocket endpoint and the registry of live connections (one per shard)."""

    def __init__(self, world: World, *, heartbeat_interval_ms: int) -> None:
        self.world = world
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.connections: list[GatewayConnection] = []
        self._sessions: dict[str, GatewayConnection] = {}
        self._changed = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one client websocket until it closes."""
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = GatewayConnection(ws)
        self.connections.append(conn)
        log.debug("gateway connection opened from %s", request.remote)
        try:
            await conn.send_op(HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    log.warning("gateway connection error: %s", ws.exception())
        finally:
            await conn.mark_closed()
            self.connections.remove(conn)
            await self._notify()
            log.debug("gateway connection of shard %s closed", conn.shard_id)
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: JSON) -> None:
        """Route one client frame by its opcode."""
        op, data = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            await conn.heartbeat_received(data if isinstance(data, int) else None)
            return
        handlers = {IDENTIFY: self._identify, RESUME: self._resume, REQUEST_MEMBERS: self._request_members}
        handler = handlers.get(op) if isinstance(op, int) else None
        if handler is None or not isinstance(data, dict):
            log.debug("gateway ignores op %s", op)
            return
        await handler(conn, data)

    async def _identify(self, conn: GatewayConnection, data: JSON) -> None:
        """Answer IDENTIFY with READY and one GUILD_CREATE per guild of the shard."""
        if data.get("token") != self.world.token:
            await conn.ws.close(code=AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        conn.shard_id, conn.shard_count = data.get("shard") or (0, 1)
        conn.intents = int(data.get("intents", 0))
        conn.session_id = secrets.token_hex(16)
        self._sessions[conn.session_id] = conn
        guilds = [guild for guild in self.world.guilds.values() if conn.owns(guild)]
        await conn.dispatch("READY", self._ready_payload(conn, guilds))
        for guild in guilds:
            await conn.dispatch(
                "GUILD_CREATE", guild_create_payload(guild, self.world.bot_user.id, joined_after_ready=False)
            )
        conn.ready = True
        await self._notify()

    def _ready_payload(self, conn: GatewayConnection, guilds: list[SandboxGuild]) -> JSON:
        """READY's data: the bot user, its application and the shard's guilds as unavailable stubs."""
        return {
            "v": 10,
            "user": user_payload(self.world.bot_user) | {"verified": True, "mfa_enabled": False, "flags": 0},
            "application": {"id": str(self.world.application_id), "flags": 0},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": conn.session_id,
            "session_type": "normal",
            "resume_gateway_url": f"{self.world.base_url.replace('http', 'ws', 1)}/gateway",
            "shard": [conn.shard_id, conn.shard_count],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
        }

    async def _resume(self, conn: GatewayConnection, data: JSON) -> None:
        """Answer RESUME with RESUMED when the session is known, else with INVALID_SESSION."""
        old = self._sessions.get(str(data.get("session_id")))
        if old is None or data.get("token") != self.world.token:
            await conn.send_op(INVALID_SESSION, False)
            return
        conn.shard_id, conn.shard_count, conn.intents = old.shard_id, old.shard_count, old.intents
        conn.session_id, conn.seq = old.session_id, max(old.seq, int(data.get("seq") or 0))
        conn.backlog, old.backlog = (old.backlog if old.backlog is not None else []), None
        self._sessions[conn.session_id] = conn
        # What was sent since op 7, then RESUMED; events arriving meanwhile join the backlog.
        resumed = False
        while True:
            while conn.backlog:
                await conn.dispatch(*conn.backlog.pop(0))
            if resumed:
                break
            await conn.dispatch("RESUMED", {})
            resumed = True
        conn.backlog = None
        conn.ready = True
        await self._notify()

    async def _request_members(self, conn: GatewayConnection, data: JSON) -> None:
        """Answer REQUEST_GUILD_MEMBERS with a single GUILD_MEMBERS_CHUNK."""
        guild = self.world.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(user_id) for user_id in data["user_ids"]}
            members = [m for m in members if m.user.id in wanted]
        elif data.get("query"):
            members = [m for m in members if m.user.username.startswith(str(data["query"]))]
        chunk = {
            "guild_id": str(guild.id),
            "members": [member_payload(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": data.get("nonce"),
        }
        await conn.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _notify(self) -> None:
        """Wake whoever waits for connections to come or go."""
        async with self._changed:
            self._changed.notify_all()

    def ready_connections(self) -> list[GatewayConnection]:
        """The connections that have received READY (or RESUMED) and are still open."""
        return [conn for conn in self.connections if conn.ready and not conn.closed]

    def connection_for(self, guild: SandboxGuild) -> GatewayConnection | None:
        """The ready connection whose shard owns a guild, if any."""
        return next((conn for conn in self.ready_connections() if conn.owns(guild)), None)

    async def dispatch_guild(self, guild: SandboxGuild, event: str, data: JSON) -> int | None:
        """Send a guild's event to the shard that owns it; None when no such shard is connected."""
        conn = self.connection_for(guild)
        if conn is None:
            resuming = next((c for c in self._sessions.values() if c.backlog is not None and c.owns(guild)), None)
            if resuming is not None and resuming.backlog is not None:
                resuming.backlog.append((event, data))
                return None
            log.debug("no connection for guild %s, %s not sent", guild.id, event)
            return None
        return await conn.dispatch(event, data)

    async def wait_connected(self, count: int) -> None:
        """Wait until `count` connections have been sent READY and their guilds."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.ready_connections()) >= count)

    async def barrier(self) -> None:
        """Wait until every ready connection has parsed every event sent to it."""
        await asyncio.gather(*(conn.barrier() for conn in self.ready_connections()))

    async def reconnect(self, shard_id: int | None = None) -> list[str]:
        """Ask the client to reconnect and RESUME (op 7); return the session ids asked."""
        asked = [conn for conn in self.ready_connections() if shard_id is None or conn.shard_id == shard_id]
        for conn in asked:
            conn.ready = False
            conn.backlog = []
            await conn.send_op(RECONNECT, None)
        return [conn.session_id for conn in asked]

    def drop_sessions(self, shard_id: int | None = None) -> list[GatewayConnection]:
        """Forget the sessions of these connections and stop sending them events.

        Their client's next RESUME gets INVALID_SESSION, so it identifies anew: a new session
        that never receives what was sent in between (``invalidate``).
        """
        dropped = [conn for conn in self.ready_connections() if shard_id is None or conn.shard_id == shard_id]
        for conn in dropped:
            conn.ready = False
            self._sessions.pop(conn.session_id, None)
        return dropped

    async def invalidate(self, dropped: list[GatewayConnection]) -> None:
        """Ask the clients of dropped sessions to reconnect (op 7); their RESUME is refused."""
        for conn in dropped:
            await conn.send_op(RECONNECT, None)

    def new_sessions(self, old: set[str], count: int) -> bool:
        """Whether ``count`` ready connections have sessions other than ``old``."""
        return sum(1 for conn in self.ready_connections() if conn.session_id not in old) >= count

    async def wait_new_sessions(self, old: set[str], count: int) -> None:
        """Wait until ``count`` connections identified anew."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.new_sessions(old, count))

    def resumed(self, session_ids: list[str]) -> bool:
        """Whether every one of these sessions is live again on a new connection."""
        live = {conn.session_id for conn in self.ready_connections()}
        return all(session_id in live for session_id in session_ids)

    async def wait_resumed(self, session_ids: list[str]) -> None:
        """Wait until the sessions have resumed."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.resumed(session_ids))

    async def close(self) -> None:
        """Close every websocket."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"Sandbox shutting down.")
