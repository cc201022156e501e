"""Discord's CDN, offline: custom emoji images and avatars (discord.py's ``Asset.BASE`` points here).

Every custom emoji id gets a picture of its own (a colour from the id, a light ring),
so that reports can be seen drawing custom emojis from their images; an avatar is
served for users whose avatar hash is set, 404 otherwise, as on Discord.
"""

from __future__ import annotations

import functools
import hashlib
import io

from aiohttp import web
from PIL import Image, ImageDraw

from sandbox.state import World


@functools.lru_cache(maxsize=256)
def picture(seed: str, size: int = 64) -> bytes:
    """A deterministic PNG for ``seed``: a coloured disc with a light ring and a dot."""
    digest = hashlib.blake2b(seed.encode(), digest_size=3).digest()
    colour = (64 + digest[0] // 2, 64 + digest[1] // 2, 64 + digest[2] // 2, 255)
    image = Image.new("RGBA", (size * 4, size * 4))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, size * 4 - 4, size * 4 - 4), fill=colour, outline=(245, 245, 245, 255), width=size // 4)
    c = size * 2
    draw.ellipse((c - size // 2, c - size // 2, c + size // 2, c + size // 2), fill=(250, 250, 250, 255))
    out = io.BytesIO()
    image.resize((size, size), Image.Resampling.LANCZOS).save(out, "PNG")
    return out.getvalue()


class Cdn:
    """GET /emojis/{id}.{ext} and /avatars/{user}/{hash}.{ext}."""

    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(r"/emojis/{emoji_id:\d+}.{ext}", self.emoji),
            web.get(r"/avatars/{user_id:\d+}/{avatar}.{ext}", self.avatar),
        ]

    async def emoji(self, request: web.Request) -> web.Response:
        return web.Response(body=picture(f"emoji-{request.match_info['emoji_id']}"), content_type="image/png")

    async def avatar(self, request: web.Request) -> web.Response:
        user = self.world.users.get(int(request.match_info["user_id"]))
        if user is None or user.avatar is None or user.avatar != request.match_info["avatar"]:
            return web.json_response({"message": "404: Not Found", "code": 0}, status=404)
        return web.Response(body=picture(f"avatar-{user.id}-{user.avatar}"), content_type="image/png")
