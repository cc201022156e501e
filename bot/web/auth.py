"""Getting into the dashboard: signed one-time links, hashed sessions, and who may see what.

A link is ``/login/<guild>/<token>``: the token carries the guild, the member, the expiry
and a random nonce, signed with HMAC-SHA256; the database keeps only its SHA-256 and
marks it used, so a link works once. A session cookie is a random value whose SHA-256
is stored; access is worked out again from the database on every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from db import dashboard as repo

LINK_VALID: Final = timedelta(minutes=10)
SESSION_VALID: Final = timedelta(hours=12)
MENTOR_LEVELS: Final = frozenset({"mentor", "admin"})


class Refused(Exception):
    """A request that gets the plain refusal page and a 403; the message says why in one sentence."""


def digest(value: str) -> str:
    """What the database keeps of a token or a session value."""
    return hashlib.sha256(value.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


async def resolve_secret(engine: AsyncEngine, configured: str | None) -> str:
    """DASHBOARD_SECRET when set, else the key generated once and kept in the database."""
    return configured if configured else await repo.dashboard_secret(engine)


async def issue_link(
    engine: AsyncEngine, secret: str, base_url: str, guild_id: int, user_id: int, now: datetime
) -> str:
    """A new signed link for the member, valid ``LINK_VALID`` and once."""
    expires = now + LINK_VALID
    payload = _b64(f"{guild_id}:{user_id}:{int(expires.timestamp())}:{secrets.token_urlsafe(24)}".encode())
    token = f"{payload}.{_sign(secret, payload)}"
    await repo.store_token(engine, digest(token), guild_id, user_id, expires, now)
    return f"{base_url.rstrip('/')}/login/{guild_id}/{token}"


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a verified link says: for whom, in which guild."""

    guild_id: int
    user_id: int


def verify_link(secret: str, guild_id: int, token: str, now: datetime) -> LinkClaim:
    """The link's member when the signature holds, the guild matches and it has not expired; else ``Refused``."""
    payload, _, signature = token.partition(".")
    if not payload or not signature or not hmac.compare_digest(_sign(secret, payload), signature):
        raise Refused("This sign-in link is not valid.")
    try:
        g, u, exp, _nonce = _unb64(payload).decode().split(":", 3)
        claim = LinkClaim(int(g), int(u))
        expires = datetime.fromtimestamp(int(exp), UTC)
    except (ValueError, UnicodeDecodeError):
        raise Refused("This sign-in link is not valid.") from None
    if claim.guild_id != guild_id:
        raise Refused("This sign-in link is for another server.")
    if expires <= now:
        raise Refused("This sign-in link has expired: ask /dashboard for a new one.")
    return claim


async def redeem_link(engine: AsyncEngine, secret: str, guild_id: int, token: str, now: datetime) -> LinkClaim:
    """Verify and use up a link (``Refused`` when forged, expired, another guild's or used before)."""
    claim = verify_link(secret, guild_id, token, now)
    if not await repo.use_token(engine, digest(token), claim.guild_id, claim.user_id, now):
        raise Refused("This sign-in link was already used: ask /dashboard for a new one.")
    return claim


async def open_session(engine: AsyncEngine, claim: LinkClaim, now: datetime) -> str:
    """A new session for the member; returns the cookie's value (only its hash is stored)."""
    value = secrets.token_urlsafe(32)
    await repo.create_session(engine, digest(value), claim.guild_id, claim.user_id, now + SESSION_VALID, now)
    return value


@dataclass(frozen=True, slots=True)
class Viewer:
    """The member behind a request, with the level they have now."""

    guild_id: int
    user_id: int
    name: str
    level: str

    @property
    def mentor(self) -> bool:
        """Mentor or admin: member-level pages are open."""
        return self.level in MENTOR_LEVELS


async def current_viewer(engine: AsyncEngine, guild_id: int, cookie: str | None, now: datetime) -> Viewer:
    """The session's member and their level now, read from the database; ``Refused`` without access."""
    if not cookie:
        raise Refused("You are not signed in to this server's dashboard: use /dashboard in the server.")
    user_id = await repo.session_member(engine, digest(cookie), guild_id, now)
    if user_id is None:
        raise Refused("Your dashboard session has ended: use /dashboard in the server for a new link.")
    return await viewer_of(engine, guild_id, user_id)


async def viewer_of(engine: AsyncEngine, guild_id: int, user_id: int) -> Viewer:
    """A member's access now; ``Refused`` when the bot has not seen them or they left."""
    access, mentor_role = await repo.member_access(engine, guild_id, user_id)
    level = None if access is None else access.level(mentor_role)
    if access is None or level is None:
        raise Refused("You are no longer a member of this server, so its dashboard is closed to you.")
    return Viewer(guild_id, user_id, access.name, level)


def cookie_name(guild_id: int) -> str:
    """One session cookie per guild, sent only to that guild's pages."""
    return f"sb_{guild_id}"
