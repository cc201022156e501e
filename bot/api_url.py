"""Point discord.py at another Discord API (``DISCORD_API_URL``): the offline sandbox, or a REST proxy."""

from __future__ import annotations

import logging

import discord
import yarl

log = logging.getLogger(__name__)


def redirect_discord(base_url: str) -> None:
    """Send every REST call, webhook, gateway connection and asset URL of discord.py to `base_url`.

    `base_url` is the API's root, e.g. ``http://127.0.0.1:PORT``. Call it before ``login()``.
    """
    root = base_url.rstrip("/")
    gateway = yarl.URL(root).with_scheme("wss" if root.startswith("https") else "ws") / "gateway"
    discord.http.Route.BASE = f"{root}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
    discord.asset.Asset.BASE = root
    log.info("discord.py redirected to %s (gateway %s)", root, gateway)
