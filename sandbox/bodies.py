"""HTTP plumbing shared by the sandbox's REST routes: JSON responses, request bodies, uploads."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from sandbox.payloads import JSON, attachment_payload
from sandbox.state import StoredFile, World


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json` (discord.py compares with ==)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={hdrs.CONTENT_TYPE: "application/json"})


def error_response(status: int, code: int, message: str) -> web.Response:
    """A Discord-style JSON error."""
    return json_response({"message": message, "code": code}, status=status)


def no_content() -> web.Response:
    """An empty 204 answer."""
    return web.Response(status=204)


@dataclass
class Body:
    """A request's JSON (or `payload_json`) and its uploaded files by upload index."""

    json: Any = None
    files: dict[int, StoredFile] = field(default_factory=dict)

    @property
    def fields(self) -> JSON:
        """The JSON body as a dict (empty when there was none)."""
        return self.json if isinstance(self.json, dict) else {}


BODY_KEY = web.RequestKey("sandbox_body", Body)


async def read_body(request: web.Request) -> Body:
    """Parse a request's body once (JSON or multipart with `payload_json` and `files[n]`)."""
    cached = request.get(BODY_KEY)
    if isinstance(cached, Body):
        return cached
    body = Body()
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader):
                await _read_part(part, body)
    elif request.can_read_body:
        raw = await request.read()
        body.json = json.loads(raw) if raw else None
    request[BODY_KEY] = body
    return body


async def _read_part(part: BodyPartReader, body: Body) -> None:
    """Store one multipart field: the JSON payload or an uploaded file."""
    data = bytes(await part.read(decode=False))
    name = part.name or ""
    if name == "payload_json":
        body.json = json.loads(data)
    elif name.startswith("files[") and name.endswith("]"):
        index = int(name[len("files[") : -1])
        body.files[index] = StoredFile(
            filename=part.filename or f"file{index}", data=data, content_type=part.headers.get(hdrs.CONTENT_TYPE)
        )


def build_attachments(
    world: World,
    channel_id: int,
    body: Body,
    existing: list[tuple[JSON, StoredFile]] | None = None,
) -> tuple[list[JSON], list[StoredFile]]:
    """The attachments of a new or edited message: the kept old ones and the new uploads.

    An entry of the body's `attachments` whose id is an upload index is a new file (its
    `description` is the alt text); an entry with the id of an existing attachment keeps it.
    """
    kept = {int(payload["id"]): (payload, stored) for payload, stored in existing or []}
    entries: list[JSON] = list(body.fields.get("attachments") or [])
    listed = {int(entry["id"]) for entry in entries if "id" in entry}
    entries += [{"id": index} for index in body.files if index not in listed]
    payloads: list[JSON] = []
    files: list[StoredFile] = []
    for entry in entries:
        index = int(entry["id"])
        if index in body.files:
            stored = body.files[index]
            stored.description = entry.get("description")
            payloads.append(_new_attachment(world, channel_id, stored))
            files.append(stored)
        elif index in kept:
            payloads.append(kept[index][0])
            files.append(kept[index][1])
    return payloads, files


def _new_attachment(world: World, channel_id: int, stored: StoredFile) -> JSON:
    """The attachment object of a fresh upload."""
    return attachment_payload(
        world.minter.now(),
        channel_id,
        stored.filename,
        len(stored.data),
        world.base_url,
        description=stored.description,
        content_type=stored.content_type,
    )


def existing_attachments(payload: JSON, files: list[StoredFile]) -> list[tuple[JSON, StoredFile]]:
    """Pair a stored message's attachment objects with their bytes."""
    return list(zip(payload.get("attachments", []), files, strict=False))
