"""Interaction answers: the callback, follow-ups and edits of @original, recorded per interaction."""

from __future__ import annotations

import logging

from aiohttp import web

from sandbox.bodies import Body, error_response, json_response, no_content, read_body
from sandbox.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, InteractionReply, InteractionResult
from sandbox.payloads import JSON, user_payload
from sandbox.rest import API, NotFoundError, Rest, edit_message
from sandbox.state import EPHEMERAL, LOADING, StoredMessage

log = logging.getLogger(__name__)

UNKNOWN_INTERACTION, UNKNOWN_WEBHOOK = 10062, 10015
CHAT_INPUT_COMMAND_MESSAGE = 20


class Webhooks:
    """Routes under /interactions and /webhooks that answer the sandbox's invocations."""

    def __init__(self, rest: Rest, interactions: dict[str, InteractionResult]) -> None:
        self.rest = rest
        self.world = rest.world
        self.interactions = interactions

    def routes(self) -> list[web.RouteDef]:
        """The interaction and webhook routes."""
        message = f"{API}/webhooks/{{app_id:\\d+}}/{{token}}/messages/{{message_id:(?:\\d+|@original)}}"
        return [
            web.post(f"{API}/interactions/{{interaction_id:\\d+}}/{{token}}/callback", self.callback),
            web.post(f"{API}/webhooks/{{app_id:\\d+}}/{{token}}", self.followup),
            web.get(message, self.get_message),
            web.patch(message, self.patch_message),
            web.delete(message, self.delete_message),
        ]

    def _result(self, request: web.Request) -> InteractionResult:
        """The invocation a token belongs to."""
        result = self.interactions.get(request.match_info["token"])
        if result is None:
            raise NotFoundError(UNKNOWN_WEBHOOK, "Unknown Webhook")
        return result

    def _message(self, request: web.Request, result: InteractionResult) -> StoredMessage:
        """@original or one follow-up of an invocation."""
        message_id = request.match_info["message_id"]
        found = result.original if message_id == "@original" else result.followups.get(int(message_id))
        if found is None:
            raise NotFoundError(10008, "Unknown Message")
        return found

    def _interaction_message(self, result: InteractionResult, body: Body, *, flags: int = 0) -> StoredMessage:
        """A message the bot sends as an interaction answer (webhook author, interaction metadata)."""
        channel = self.world.channel(result.channel_id)
        metadata: JSON = {"id": str(result.id), "type": 2, "name": result.command}
        invoker = self.world.users.get(result.user_id)
        if invoker is not None:
            metadata["user"] = user_payload(invoker)
        message = self.rest.bot_message(
            channel,
            body,
            type=CHAT_INPUT_COMMAND_MESSAGE,
            webhook_id=str(self.world.application_id),
            application_id=str(self.world.application_id),
            interaction_metadata=metadata,
        )
        return self._with_flags(message, flags)

    @staticmethod
    def _with_flags(message: StoredMessage, flags: int) -> StoredMessage:
        """Add flags to a message."""
        message.payload["flags"] = message.flags | flags
        return message

    async def _publish(self, message: StoredMessage) -> None:
        """Keep a visible answer in the channel: MESSAGE_CREATE the first time, MESSAGE_UPDATE after."""
        if message.ephemeral or message.flags & LOADING:
            return
        guild = self.world.guild_of(message.channel_id)
        known = message.id in self.world.channel_messages(message.channel_id)
        if not known:
            self.world.store(message)
        event = "MESSAGE_UPDATE" if known else "MESSAGE_CREATE"
        await self.rest.gateway.dispatch_guild(guild, event, message.payload)

    async def callback(self, request: web.Request) -> web.Response:
        """POST /interactions/{id}/{token}/callback, answered with a callback response (with_response=1)."""
        result = self.interactions.get(request.match_info["token"])
        if result is None or str(result.id) != request.match_info["interaction_id"]:
            return error_response(404, UNKNOWN_INTERACTION, "Unknown interaction")
        if result.callback_type is not None:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        body = await read_body(request)
        kind = int(body.fields.get("type", 0))
        inner = Body(json=body.fields.get("data") or {}, files=body.files)
        message: StoredMessage | None = None
        if kind == CHANNEL_MESSAGE:
            message = self._interaction_message(result, inner)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = self._interaction_message(result, inner, flags=LOADING)
        await result.record_callback(kind, message)
        if message is not None:
            await self._publish(message)
        return json_response(self._callback_response(result, kind, message))

    @staticmethod
    def _callback_response(result: InteractionResult, kind: int, message: StoredMessage | None) -> JSON:
        """The InteractionCallbackResponse discord.py parses."""
        interaction: JSON = {"id": str(result.id), "type": 2}
        data: JSON = {"interaction": interaction}
        if message is not None:
            interaction.update(
                response_message_id=str(message.id),
                response_message_loading=kind == DEFERRED_CHANNEL_MESSAGE,
                response_message_ephemeral=message.ephemeral,
            )
            data["resource"] = {"type": kind, "message": message.payload}
        return data

    async def followup(self, request: web.Request) -> web.Response:
        """POST /webhooks/{app}/{token}: a follow-up message (full message back with wait=true)."""
        result = self._result(request)
        body = await read_body(request)
        message = self._interaction_message(result, body)
        original = result.original
        if original is not None and original.flags & LOADING:
            # As on Discord, the first follow-up of a deferral replaces the "thinking" message,
            # keeping its id and its ephemerality.
            message.payload.update(id=str(original.id), flags=message.flags | (original.flags & EPHEMERAL))
            original.payload, original.files = message.payload, message.files
            message = original
        result.followups[message.id] = message
        await result.record(InteractionReply.snapshot("followup", message))
        await self._publish(message)
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(message.payload)
        return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        """GET @original or a follow-up."""
        return json_response(self._message(request, self._result(request)).payload)

    async def patch_message(self, request: web.Request) -> web.Response:
        """PATCH @original or a follow-up; the first edit of a deferral is the answer."""
        result = self._result(request)
        message = self._message(request, result)
        edit_message(self.world, message, await read_body(request))
        message.payload["flags"] = message.flags & ~LOADING
        await result.record(InteractionReply.snapshot("edit", message))
        await self._publish(message)
        return json_response(message.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        """DELETE @original or a follow-up."""
        result = self._result(request)
        message = self._message(request, result)
        self.world.channel_messages(message.channel_id).pop(message.id, None)
        log.debug("interaction %s deleted message %s", result.id, message.id)
        return no_content()
