"""The sandbox's REST API v10: the routes discord.py calls, request recording and 429s on demand."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.bodies import (
    Body,
    build_attachments,
    error_response,
    existing_attachments,
    json_response,
    no_content,
    read_body,
)
from sandbox.gateway import Gateway
from sandbox.payloads import (
    JSON,
    channel_payload,
    guild_payload,
    invite_payload,
    member_payload,
    message_payload,
    role_payload,
    user_payload,
)
from sandbox.state import SandboxChannel, SandboxGuild, SandboxInvite, StoredMessage, World, iso, utcnow

log = logging.getLogger(__name__)

API = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNKNOWN_CHANNEL, UNKNOWN_GUILD, UNKNOWN_MEMBER, UNKNOWN_MESSAGE, UNKNOWN_USER = 10003, 10004, 10007, 10008, 10013
UNKNOWN_INVITE = 10006


@dataclass
class RecordedRequest:
    """One HTTP request the bot made, as a test inspects it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0


@dataclass
class RateLimitRule:
    """Answer the next `remaining` requests whose "METHOD /path" contains `pattern` with a 429."""

    pattern: str
    remaining: int
    retry_after: float


class NotFoundError(Exception):
    """A route's object does not exist; becomes a Discord-style 404."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Recorder:
    """Records requests, injects rate limits and turns lookups that fail into 404s."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[RecordedRequest] = []
        self.unknown: list[RecordedRequest] = []
        self.rules: list[RateLimitRule] = []
        self.errors: list[str] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the request, answer 429 when a rule says so, else run the route."""
        if not request.path.startswith(API):
            return await handler(request)
        record = RecordedRequest(request.method, request.path[len(API) :], dict(request.query), None)
        self.requests.append(record)
        try:
            record.json = (await read_body(request)).json
        except ValueError:
            response: web.StreamResponse = error_response(400, 50109, "The request body contains invalid JSON.")
        else:
            response = (
                self._unauthorized(request, record.path)
                or self._rate_limited(f"{request.method} {record.path}")
                or await self._run(handler, request)
            )
        record.status = response.status
        return response

    def _unauthorized(self, request: web.Request, path: str) -> web.Response | None:
        """A 401 when a bot route lacks the sandbox's token (interaction and webhook routes carry theirs)."""
        if path.startswith(("/interactions/", "/webhooks/")):
            return None
        if request.headers.get("Authorization") == f"Bot {self.token}":
            return None
        return error_response(401, 0, "401: Unauthorized")

    async def _run(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        """Run a route, turning a missing object into a 404 and a sandbox bug into a 400 (no retries)."""
        try:
            return await handler(request)
        except NotFoundError as exc:
            return error_response(404, exc.code, str(exc))
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("sandbox route %s %s failed", request.method, request.path)
            self.errors.append(f"{request.method} {request.path}: {exc!r}")
            return error_response(400, 50035, f"sandbox error: {exc!r}")

    def _rate_limited(self, key: str) -> web.Response | None:
        """A 429 for the first rule matching `key`, consuming one of its uses."""
        rule = next((r for r in self.rules if r.remaining > 0 and r.pattern in key), None)
        if rule is None:
            return None
        rule.remaining -= 1
        log.debug("rate limiting %s for %.3fs", key, rule.retry_after)
        response = json_response(
            {"message": "You are being rate limited.", "retry_after": rule.retry_after, "global": False}, 429
        )
        response.headers.update(
            {"Via": "1.1 google", "Retry-After": str(rule.retry_after), "X-RateLimit-Scope": "user"}
        )
        return response

    async def unknown_route(self, request: web.Request) -> web.Response:
        """Answer a route the sandbox does not implement with 404 and remember it."""
        path = request.path[len(API) :] if request.path.startswith(API) else request.path
        self.unknown.append(RecordedRequest(request.method, path, dict(request.query), None, 404))
        log.warning("sandbox has no route for %s %s", request.method, request.path)
        return error_response(404, 0, f"404: Not Found ({request.method} {path})")


def _int(request: web.Request, name: str) -> int:
    """A snowflake from the URL."""
    return int(request.match_info[name])


class Rest:
    """Routes for users, the gateway URL, application commands, channels, messages and guilds."""

    def __init__(self, world: World, gateway: Gateway, *, recommended_shards: int = 1) -> None:
        self.world = world
        self.gateway = gateway
        self.recommended_shards = recommended_shards

    def routes(self) -> list[web.RouteDef]:
        """Every REST route (the caller adds the catch-all afterwards)."""
        g, p = web.get, web.post
        return [
            g(f"{API}/users/@me", self.get_me),
            g(f"{API}/users/{{user_id:\\d+}}", self.get_user),
            g(f"{API}/oauth2/applications/@me", self.get_application),
            g(f"{API}/gateway", self.get_gateway),
            g(f"{API}/gateway/bot", self.get_gateway_bot),
            g(f"{API}/applications/{{app_id:\\d+}}/commands", self.get_commands),
            web.put(f"{API}/applications/{{app_id:\\d+}}/commands", self.put_commands),
            g(f"{API}/applications/{{app_id:\\d+}}/guilds/{{guild_id:\\d+}}/commands", self.get_commands),
            web.put(f"{API}/applications/{{app_id:\\d+}}/guilds/{{guild_id:\\d+}}/commands", self.put_commands),
            g(f"{API}/channels/{{channel_id:\\d+}}", self.get_channel),
            g(f"{API}/channels/{{channel_id:\\d+}}/messages", self.get_messages),
            p(f"{API}/channels/{{channel_id:\\d+}}/messages", self.post_message),
            g(f"{API}/channels/{{channel_id:\\d+}}/messages/{{message_id:\\d+}}", self.get_message),
            web.patch(f"{API}/channels/{{channel_id:\\d+}}/messages/{{message_id:\\d+}}", self.patch_message),
            web.delete(f"{API}/channels/{{channel_id:\\d+}}/messages/{{message_id:\\d+}}", self.delete_message),
            p(f"{API}/channels/{{channel_id:\\d+}}/typing", self.typing),
            g(f"{API}/guilds/{{guild_id:\\d+}}", self.get_guild),
            g(f"{API}/guilds/{{guild_id:\\d+}}/channels", self.get_guild_channels),
            g(f"{API}/guilds/{{guild_id:\\d+}}/roles", self.get_roles),
            g(f"{API}/guilds/{{guild_id:\\d+}}/members", self.list_members),
            g(f"{API}/guilds/{{guild_id:\\d+}}/members/{{user_id:\\d+}}", self.get_member),
            g(f"{API}/guilds/{{guild_id:\\d+}}/invites", self.get_invites),
            g(f"{API}/guilds/{{guild_id:\\d+}}/vanity-url", self.get_vanity),
            g(f"{API}/channels/{{channel_id:\\d+}}/invites", self.get_channel_invites),
            g(f"{API}/invites/{{code}}", self.get_invite),
            g(f"{API}/guilds/{{guild_id:\\d+}}/threads/active", self.get_active_threads),
            g(f"{API}/channels/{{channel_id:\\d+}}/threads/archived/public", self.get_archived_threads),
            g("/attachments/{channel_id:\\d+}/{attachment_id:\\d+}/{filename}", self.get_attachment),
        ]

    # lookups -------------------------------------------------------------------------------

    def guild(self, request: web.Request) -> SandboxGuild:
        """The guild named in the URL."""
        guild = self.world.guilds.get(_int(request, "guild_id"))
        if guild is None:
            raise NotFoundError(UNKNOWN_GUILD, "Unknown Guild")
        return guild

    def channel(self, request: web.Request) -> SandboxChannel:
        """The channel named in the URL."""
        try:
            return self.world.channel(_int(request, "channel_id"))
        except KeyError:
            raise NotFoundError(UNKNOWN_CHANNEL, "Unknown Channel") from None

    def message(self, request: web.Request) -> StoredMessage:
        """The message named in the URL."""
        stored = self.world.channel_messages(_int(request, "channel_id")).get(_int(request, "message_id"))
        if stored is None:
            raise NotFoundError(UNKNOWN_MESSAGE, "Unknown Message")
        return stored

    # users, application, gateway -------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        """GET /users/@me: the bot user."""
        return json_response(user_payload(self.world.bot_user) | {"verified": True, "mfa_enabled": False})

    async def get_user(self, request: web.Request) -> web.Response:
        """GET /users/{id}."""
        user = self.world.users.get(_int(request, "user_id"))
        if user is None:
            raise NotFoundError(UNKNOWN_USER, "Unknown User")
        return json_response(user_payload(user))

    async def get_application(self, request: web.Request) -> web.Response:
        """GET /oauth2/applications/@me: the application, owned by the first guild's owner."""
        owner = next(
            (self.world.users[g.owner_id] for g in self.world.guilds.values() if g.owner_id in self.world.users),
            self.world.bot_user,
        )
        return json_response(
            {
                "id": str(self.world.application_id),
                "name": self.world.application_name,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": user_payload(owner),
                "team": None,
                "flags": 0,
                "bot": user_payload(self.world.bot_user),
                "summary": "",
                "redirect_uris": [],
                "interactions_endpoint_url": None,
            }
        )

    def _ws_url(self) -> str:
        """The gateway's websocket URL."""
        return f"{self.world.base_url.replace('http', 'ws', 1)}/gateway"

    async def get_gateway(self, request: web.Request) -> web.Response:
        """GET /gateway."""
        return json_response({"url": self._ws_url()})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot: the URL, the recommended shard count and a generous session limit."""
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 16}
        return json_response({"url": self._ws_url(), "shards": self.recommended_shards, "session_start_limit": limit})

    # application commands --------------------------------------------------------------------

    def _command_list(self, request: web.Request) -> list[JSON]:
        """The synced global or guild command list the URL names."""
        if "guild_id" in request.match_info:
            return self.world.guild_commands.setdefault(_int(request, "guild_id"), [])
        return self.world.global_commands

    async def get_commands(self, request: web.Request) -> web.Response:
        """GET the synced commands."""
        return json_response(self._command_list(request))

    async def put_commands(self, request: web.Request) -> web.Response:
        """PUT (bulk overwrite) commands, keeping the id of a command that keeps its name."""
        body = await read_body(request)
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self._command_list(request)}
        guild_id = request.match_info.get("guild_id")
        commands = [self._stored_command(c, old, guild_id) for c in body.json or []]
        if guild_id is None:
            self.world.global_commands = commands
        else:
            self.world.guild_commands[int(guild_id)] = commands
        return json_response(commands)

    def _stored_command(self, command: JSON, old: dict[tuple[str, int], str], guild_id: str | None) -> JSON:
        """A command as Discord returns it after a sync."""
        kind = command.get("type", 1)
        stored = {
            "type": kind,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            **command,
            "id": old.get((command["name"], kind)) or str(self.world.minter.now()),
            "application_id": str(self.world.application_id),
            "version": str(self.world.minter.now()),
        }
        if guild_id is not None:
            stored["guild_id"] = guild_id
        return stored

    # channels and messages -------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        """GET /channels/{id}."""
        return json_response(channel_payload(self.channel(request)))

    async def get_messages(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/messages: a page of history, always newest first."""
        messages = self.world.channel_messages(self.channel(request).id)
        return json_response([m.payload for m in history_page(messages, request.query)])

    async def get_message(self, request: web.Request) -> web.Response:
        """GET one message."""
        return json_response(self.message(request).payload)

    async def post_message(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/messages: the bot posts (JSON or multipart with files)."""
        channel = self.channel(request)
        body = await read_body(request)
        stored = self.bot_message(channel, body)
        self.world.store(stored)
        await self.gateway.dispatch_guild(self.world.guilds[channel.guild_id], "MESSAGE_CREATE", stored.payload)
        return json_response(stored.payload)

    def bot_message(self, channel: SandboxChannel, body: Body, **fields: Any) -> StoredMessage:
        """A message authored by the bot from a request body."""
        attachments, files = build_attachments(self.world, channel.id, body)
        data = body.fields
        guild = self.world.guilds[channel.guild_id]
        reference = data.get("message_reference")
        payload = message_payload(
            message_id=self.world.minter.now(),
            channel=channel,
            author=self.world.bot_user,
            member=guild.members.get(self.world.bot_user.id),
            content=str(data.get("content") or ""),
            timestamp=utcnow(),
            embeds=list(data.get("embeds") or []),
            attachments=attachments,
            flags=int(data.get("flags") or 0),
            components=list(data.get("components") or []),
            **({"message_reference": reference, "type": 19} if reference else {}) | fields,
        )
        return StoredMessage(payload, files)

    async def patch_message(self, request: web.Request) -> web.Response:
        """PATCH a message: content, embeds, attachments; then MESSAGE_UPDATE."""
        stored = self.message(request)
        edit_message(self.world, stored, await read_body(request))
        guild = self.world.guild_of(stored.channel_id)
        await self.gateway.dispatch_guild(guild, "MESSAGE_UPDATE", stored.payload)
        return json_response(stored.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE a message; then MESSAGE_DELETE."""
        stored = self.message(request)
        del self.world.channel_messages(stored.channel_id)[stored.id]
        guild = self.world.guild_of(stored.channel_id)
        data = {"id": str(stored.id), "channel_id": str(stored.channel_id), "guild_id": str(guild.id)}
        await self.gateway.dispatch_guild(guild, "MESSAGE_DELETE", data)
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        """POST /channels/{id}/typing."""
        self.channel(request)
        return no_content()

    async def get_attachment(self, request: web.Request) -> web.StreamResponse:
        """Serve an uploaded file's bytes (the attachment URL)."""
        attachment_id = request.match_info["attachment_id"]
        for stored in self.world.channel_messages(_int(request, "channel_id")).values():
            for payload, file in existing_attachments(stored.payload, stored.files):
                if payload["id"] == attachment_id:
                    return web.Response(body=file.data, content_type=file.content_type or "application/octet-stream")
        return error_response(404, 0, "404: Not Found")

    # guilds ----------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}."""
        return json_response(guild_payload(self.guild(request)))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/channels (threads excluded, as on Discord)."""
        channels = [c for c in self.guild(request).channels.values() if not c.is_thread]
        return json_response([channel_payload(c) for c in channels])

    async def get_roles(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/roles."""
        return json_response([role_payload(r) for r in self.guild(request).roles.values()])

    async def get_member(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/members/{user}."""
        member = self.guild(request).members.get(_int(request, "user_id"))
        if member is None:
            raise NotFoundError(UNKNOWN_MEMBER, "Unknown Member")
        return json_response(member_payload(member))

    async def list_members(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/members: members by ascending id, paged with `after` and `limit`."""
        guild = self.guild(request)
        after = int(request.query.get("after", 0))
        limit = min(int(request.query.get("limit", 1)), 1000)
        ids = [user_id for user_id in sorted(guild.members) if user_id > after][:limit]
        return json_response([member_payload(guild.members[user_id]) for user_id in ids])

    async def get_invites(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/invites with their use counts."""
        guild = self.guild(request)
        return json_response([invite_payload(guild, i, self.world.users) for i in guild.invites.values()])

    async def get_active_threads(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/threads/active: the threads and forum posts not archived."""
        threads = [c for c in self.guild(request).channels.values() if c.is_thread and not c.archived]
        return json_response({"threads": [channel_payload(c) for c in threads], "members": []})

    async def get_archived_threads(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/threads/archived/public: archived threads of a channel, in one page."""
        parent = self.channel(request)
        guild = self.world.guilds[parent.guild_id]
        threads = [c for c in guild.channels.values() if c.is_thread and c.archived and c.parent_id == parent.id]
        threads.sort(key=lambda c: c.created_at, reverse=True)
        return json_response({"threads": [channel_payload(c) for c in threads], "members": [], "has_more": False})

    async def get_channel_invites(self, request: web.Request) -> web.Response:
        """GET /channels/{id}/invites."""
        channel = self.channel(request)
        guild = self.world.guilds[channel.guild_id]
        invites = [i for i in guild.invites.values() if i.channel_id == channel.id]
        return json_response([invite_payload(guild, i, self.world.users) for i in invites])

    async def get_invite(self, request: web.Request) -> web.Response:
        """GET /invites/{code}: a guild invite, or a vanity code (pointing at the first text channel)."""
        code = request.match_info["code"]
        for guild in self.world.guilds.values():
            if code in guild.invites:
                return json_response(invite_payload(guild, guild.invites[code], self.world.users))
            if code == guild.vanity_code:
                channel = min((c for c in guild.channels.values() if c.type == 0), key=lambda c: c.position)
                vanity = SandboxInvite(code, guild.id, channel.id, None, uses=guild.vanity_uses)
                return json_response(invite_payload(guild, vanity, self.world.users))
        raise NotFoundError(UNKNOWN_INVITE, "Unknown Invite")

    async def get_vanity(self, request: web.Request) -> web.Response:
        """GET /guilds/{id}/vanity-url: the code (or null) and its uses."""
        guild = self.guild(request)
        return json_response({"code": guild.vanity_code, "uses": guild.vanity_uses})


def history_page(messages: dict[int, StoredMessage], query: Any) -> list[StoredMessage]:
    """One page of channel history as Discord returns it: newest first, whatever the anchor."""
    limit = max(1, min(int(query.get("limit", 50)), 100))
    ids = sorted(messages)
    if "before" in query:
        chosen = [i for i in ids if i < int(query["before"])][-limit:]
    elif "after" in query:
        chosen = [i for i in ids if i > int(query["after"])][:limit]
    elif "around" in query:
        around = int(query["around"])
        older = [i for i in ids if i < around][-(limit // 2) :] if limit > 1 else []
        chosen = older + [i for i in ids if i >= around][: limit - len(older)]
    else:
        chosen = ids[-limit:]
    return [messages[i] for i in reversed(chosen)]


def edit_message(world: World, stored: StoredMessage, body: Body) -> None:
    """Apply an edit (content, embeds, flags, attachments) to a stored message."""
    data = body.fields
    for key in ("content", "embeds", "components"):
        if key in data:
            stored.payload[key] = data[key] if data[key] is not None else ([] if key != "content" else "")
    if "flags" in data and data["flags"] is not None:
        stored.payload["flags"] = int(data["flags"])
    if "attachments" in data or body.files:
        existing = existing_attachments(stored.payload, stored.files)
        stored.payload["attachments"], stored.files = build_attachments(world, stored.channel_id, body, existing)
    stored.payload["edited_timestamp"] = iso(utcnow())
