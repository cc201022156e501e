"""Optional "Log in with Discord": OAuth2 authorization code with ``identify`` and ``guilds``.

On when DASHBOARD_OAUTH_CLIENT_ID and DASHBOARD_OAUTH_CLIENT_SECRET are set; the redirect URI to
register in the developer portal is ``DASHBOARD_URL/oauth/callback``. Discord only says who the
user is and which guilds they are in: what they may see is still the access the bot recorded
(``db.dashboard``), re-checked on every request, and a session is opened for each of those guilds.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp

from bot.settings import Settings
from bot.web.auth import Refused

SCOPES: Final = "identify guilds"
STATE_COOKIE: Final = "sb_oauth_state"
DISCORD: Final = "https://discord.com"
TIMEOUT: Final = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """The application's OAuth2 client and where Discord is."""

    client_id: str
    client_secret: str
    redirect_uri: str
    discord_url: str = DISCORD

    def authorize_url(self, state: str) -> str:
        """Discord's consent page for this client."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "scope": SCOPES,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "prompt": "none",
        }
        return f"{self.discord_url}/oauth2/authorize?{urlencode(query)}"


def oauth_config(settings: Settings) -> OAuthConfig | None:
    """The OAuth2 client from the settings, or None when "Log in with Discord" is off."""
    if settings.DASHBOARD_OAUTH_CLIENT_ID is None or settings.DASHBOARD_OAUTH_CLIENT_SECRET is None:
        return None
    return OAuthConfig(
        settings.DASHBOARD_OAUTH_CLIENT_ID,
        settings.DASHBOARD_OAUTH_CLIENT_SECRET.get_secret_value(),
        f"{settings.dashboard_url}/oauth/callback",
        (settings.DISCORD_API_URL or DISCORD).rstrip("/"),
    )


def new_state() -> str:
    """The value that ties a callback to the browser that started the login."""
    return secrets.token_urlsafe(24)


def check_state(expected: str | None, got: str | None) -> None:
    """``Refused`` unless the callback carries the state this browser was given."""
    if not expected or not got or not hmac.compare_digest(expected, got):
        raise Refused("This Discord login did not start here: start again from the dashboard's address.")


@dataclass(frozen=True, slots=True)
class DiscordLogin:
    """Who logged in, and the guilds they are in (id and name)."""

    user_id: int
    guilds: tuple[tuple[int, str], ...]


async def exchange(config: OAuthConfig, code: str) -> DiscordLogin:
    """Trade the code for a token, then ask Discord who the user is and which guilds they are in."""
    api = f"{config.discord_url}/api"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": config.redirect_uri,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
    }
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        token = await _json(http.post(f"{api}/oauth2/token", data=form))
        access = token.get("access_token")
        if not isinstance(access, str):
            raise Refused("Discord did not accept this login: start again.")
        headers = {"Authorization": f"Bearer {access}"}
        me = await _json(http.get(f"{api}/users/@me", headers=headers))
        guilds = await _json(http.get(f"{api}/users/@me/guilds", headers=headers))
    if not isinstance(guilds, list) or "id" not in me:
        raise Refused("Discord did not say who you are: start again.")
    found = tuple((int(g["id"]), str(g.get("name", ""))) for g in guilds if isinstance(g, dict) and "id" in g)
    return DiscordLogin(int(me["id"]), found)


async def _json(request: Any) -> Any:
    """A Discord answer's JSON; ``Refused`` for an error status or when Discord cannot be reached."""
    try:
        async with request as response:
            if response.status >= 400:
                raise Refused("Discord did not accept this login: start again.")
            return await response.json(content_type=None)
    except aiohttp.ClientError:
        raise Refused("Discord could not be reached for the login: try again in a moment.") from None
