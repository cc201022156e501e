"""Member role changes and direct messages: the routes, and what a test reads of them.

- ``PUT`` / ``DELETE /guilds/{g}/members/{u}/roles/{r}`` and ``PATCH /guilds/{g}/members/{u}``
  with ``roles``: the member's roles change, each change is recorded with its audit-log
  reason, and ``GUILD_MEMBER_UPDATE`` follows, as on Discord. A role above the bot's
  highest role, or a bot without Manage Roles, gets Discord's 403 (50013).
- ``click``: the user presses a button of a DM (a component interaction, answered through
  the interaction callback like any other).
- ``POST /users/@me/channels``: the DM channel with a user (one per user);
  ``POST /channels/{dm}/messages`` stores the message, or answers 403 (50007, "Cannot
  send messages to this user") for a user whose DMs are closed (``close_dms``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from sandbox.bodies import error_response, json_response, no_content, read_body
from sandbox.gateway import Gateway
from sandbox.interactions import InteractionResult
from sandbox.payloads import JSON, member_payload, message_payload, user_payload
from sandbox.state import (
    ATTACHMENT_SIZE_LIMIT,
    SandboxChannel,
    SandboxGuild,
    SandboxMember,
    StoredMessage,
    World,
    utcnow,
)

API = "/api/v10"
DM_CHANNEL = 1
MANAGE_ROLES = 1 << 28
MISSING_PERMISSIONS, CANNOT_DM = 50013, 50007


@dataclass(frozen=True)
class RoleChange:
    """One role given or taken through the API, with the audit-log reason it carried."""

    guild_id: int
    user_id: int
    role_id: int
    action: str  # "add" or "remove"
    reason: str | None
    at: dt.datetime


@dataclass
class DirectMessages:
    """The DM channels the bot opened and what it sent in them."""

    channels: dict[int, int] = field(default_factory=dict)  # user id -> DM channel id
    messages: dict[int, list[StoredMessage]] = field(default_factory=dict)  # user id -> messages
    closed: set[int] = field(default_factory=set)  # users whose DMs refuse the bot
    refused: list[int] = field(default_factory=list)  # one entry per refused send


class MemberRoutes:
    """Routes that change members' roles and carry direct messages."""

    def __init__(self, world: World, gateway: Gateway) -> None:
        self.world = world
        self.gateway = gateway
        self.role_changes: list[RoleChange] = []
        self.dms = DirectMessages()

    def routes(self, fallback_post_message: Any) -> list[web.RouteDef]:
        """The routes; ``fallback_post_message`` serves messages to guild channels."""
        self._post_guild_message = fallback_post_message
        path = f"{API}/guilds/{{guild_id:\\d+}}/members/{{user_id:\\d+}}"
        return [
            web.put(f"{path}/roles/{{role_id:\\d+}}", self.put_role),
            web.delete(f"{path}/roles/{{role_id:\\d+}}", self.delete_role),
            web.patch(path, self.patch_member),
            web.post(f"{API}/users/@me/channels", self.open_dm),
            web.post(f"{API}/channels/{{channel_id:\\d+}}/messages", self.post_message),
        ]

    # roles -----------------------------------------------------------------------------------

    def _member(self, request: web.Request) -> tuple[SandboxGuild, SandboxMember] | web.Response:
        guild = self.world.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            return error_response(404, 10004, "Unknown Guild")
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            return error_response(404, 10007, "Unknown Member")
        return guild, member

    def _refusal(self, guild: SandboxGuild, role_ids: set[int]) -> web.Response | None:
        """Discord's 403 when the bot may not give or take one of ``role_ids``."""
        bot_id = self.world.bot_user.id
        if not guild.permissions_of(bot_id) & MANAGE_ROLES:
            return error_response(403, MISSING_PERMISSIONS, "Missing Permissions")
        if bot_id == guild.owner_id:
            return None
        bot = guild.members.get(bot_id)
        top = max((guild.roles[r].position for r in bot.role_ids if r in guild.roles), default=0) if bot else 0
        for role_id in role_ids:
            role = guild.roles.get(role_id)
            if role is None:
                return error_response(404, 10011, "Unknown Role")
            if role.position >= top or role.managed:
                return error_response(403, MISSING_PERMISSIONS, "Missing Permissions")
        return None

    async def _set_roles(
        self, request: web.Request, guild: SandboxGuild, member: SandboxMember, roles: list[int]
    ) -> web.Response | None:
        """Change a member's roles to ``roles``: recorded, then GUILD_MEMBER_UPDATE."""
        before, after = set(member.role_ids), set(roles)
        refused = self._refusal(guild, before ^ after)
        if refused is not None:
            return refused
        reason = request.headers.get("X-Audit-Log-Reason")
        if reason is not None:
            reason = unquote(reason)
        now = utcnow()
        for role_id in sorted(after - before):
            self.role_changes.append(RoleChange(guild.id, member.user.id, role_id, "add", reason, now))
        for role_id in sorted(before - after):
            self.role_changes.append(RoleChange(guild.id, member.user.id, role_id, "remove", reason, now))
        member.role_ids = [r for r in member.role_ids if r in after] + sorted(after - before)
        if before != after:
            data = member_payload(member) | {"guild_id": str(guild.id)}
            await self.gateway.dispatch_guild(guild, "GUILD_MEMBER_UPDATE", data)
        return None

    async def put_role(self, request: web.Request) -> web.Response:
        """PUT a role on a member (204)."""
        found = self._member(request)
        if isinstance(found, web.Response):
            return found
        guild, member = found
        role_id = int(request.match_info["role_id"])
        roles = member.role_ids if role_id in member.role_ids else [*member.role_ids, role_id]
        return await self._set_roles(request, guild, member, list(roles)) or no_content()

    async def delete_role(self, request: web.Request) -> web.Response:
        """DELETE a role from a member (204)."""
        found = self._member(request)
        if isinstance(found, web.Response):
            return found
        guild, member = found
        role_id = int(request.match_info["role_id"])
        roles = [r for r in member.role_ids if r != role_id]
        return await self._set_roles(request, guild, member, roles) or no_content()

    async def patch_member(self, request: web.Request) -> web.Response:
        """PATCH a member: ``roles`` (and ``nick``) change; the member comes back."""
        found = self._member(request)
        if isinstance(found, web.Response):
            return found
        guild, member = found
        body = (await read_body(request)).json or {}
        if "roles" in body:
            refused = await self._set_roles(request, guild, member, [int(r) for r in body["roles"]])
            if refused is not None:
                return refused
        if "nick" in body:
            member.nick = body["nick"]
        return json_response(member_payload(member))

    # direct messages -------------------------------------------------------------------------

    def _dm_payload(self, user_id: int) -> JSON:
        user = self.world.users[user_id]
        return {
            "id": str(self.dms.channels[user_id]),
            "type": DM_CHANNEL,
            "recipients": [user_payload(user)],
            "last_message_id": None,
        }

    async def open_dm(self, request: web.Request) -> web.Response:
        """POST /users/@me/channels: the DM channel with ``recipient_id`` (the same one each time)."""
        body = (await read_body(request)).json or {}
        user_id = int(body.get("recipient_id", 0))
        if user_id not in self.world.users:
            return error_response(400, 50033, "Invalid Recipient(s)")
        self.dms.channels.setdefault(user_id, self.world.minter.now())
        return json_response(self._dm_payload(user_id))

    async def post_message(self, request: web.Request) -> web.StreamResponse:
        """POST /channels/{id}/messages: a DM when the channel is one, else the guild channel route."""
        channel_id = int(request.match_info["channel_id"])
        user_id = next((u for u, c in self.dms.channels.items() if c == channel_id), None)
        if user_id is None:
            result: web.StreamResponse = await self._post_guild_message(request)
            return result
        if user_id in self.dms.closed:
            self.dms.refused.append(user_id)
            return error_response(403, CANNOT_DM, "Cannot send messages to this user")
        data = (await read_body(request)).json or {}
        dm = SandboxChannel(channel_id, 0, "dm", type=DM_CHANNEL)
        payload = message_payload(
            message_id=self.world.minter.now(),
            channel=dm,
            author=self.world.bot_user,
            member=None,
            content=str(data.get("content") or ""),
            timestamp=utcnow(),
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
        )
        payload.pop("guild_id", None)
        stored = StoredMessage(payload)
        self.dms.messages.setdefault(user_id, []).append(stored)
        return json_response(payload)

    async def click(
        self, user_id: int, message: StoredMessage, custom_id: str, interactions: dict[str, InteractionResult]
    ) -> InteractionResult:
        """The user presses a button of a DM the bot sent them: INTERACTION_CREATE (component) to shard 0."""
        connections = self.gateway.ready_connections()
        if not connections:
            raise RuntimeError("no gateway connection: is the client ready?")
        user = self.world.users[user_id]
        interaction_id = self.world.minter.now()
        token = f"interaction-{interaction_id}-{secrets.token_hex(8)}"
        result = InteractionResult(interaction_id, token, message.channel_id, user_id, custom_id)
        interactions[token] = result
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.world.application_id),
            "type": 3,
            "token": token,
            "version": 1,
            "data": {"custom_id": custom_id, "component_type": 2},
            "channel_id": str(message.channel_id),
            "channel": self._dm_payload(user_id),
            "user": user_payload(user),
            "message": message.payload,
            "locale": "en-US",
            "app_permissions": "0",
            "entitlements": [],
            "authorizing_integration_owners": {"1": str(user_id)},
            "context": 1,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        await connections[0].dispatch("INTERACTION_CREATE", payload)
        return result
