"""The OAuth2 endpoints of the offline Discord that "Log in with Discord" needs (authorization-code flow).

- ``GET /oauth2/authorize``: Discord's consent page. There is no one to click here: the user set
  with ``login_as`` approves at once, and the browser is sent to ``redirect_uri`` with a ``code``
  and the ``state`` it came with (or ``error=access_denied`` when nobody is logged in).
- ``POST /api/oauth2/token``: a form with ``grant_type=authorization_code``, the ``code``, the
  ``redirect_uri`` it was issued for and the client's id and secret (form fields or HTTP Basic);
  each code works once. Answers ``access_token``, ``token_type: Bearer``, ``scope``.
- ``GET /api/users/@me`` and ``GET /api/users/@me/guilds`` with ``Authorization: Bearer <token>``:
  the user, and the guilds they are a member of (``identify`` and ``guilds`` scopes).

Served beside the bot API (``/api/v10``, bot token only), as Discord serves the unversioned
``/api/oauth2/token`` its documentation names.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from sandbox.payloads import user_payload
from sandbox.state import SandboxUser, World

CLIENT_SECRET = "sandbox-oauth-secret"


@dataclass
class OAuthGrant:
    """A code or an access token: whose, for which scopes (and, for a code, which redirect)."""

    user_id: int
    scopes: tuple[str, ...]
    redirect_uri: str = ""


@dataclass
class OAuth:
    """OAuth2 state of the sandbox: who is logged in, the codes and tokens handed out."""

    world: World
    client_secret: str = CLIENT_SECRET
    user: SandboxUser | None = None
    codes: dict[str, OAuthGrant] = field(default_factory=dict)
    tokens: dict[str, OAuthGrant] = field(default_factory=dict)

    def login_as(self, user: SandboxUser | None) -> None:
        """The user who approves the next authorizations (None: nobody, they are denied)."""
        self.user = user

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/oauth2/authorize", self.authorize),
            web.post("/api/oauth2/token", self.token),
            web.get("/api/users/@me", self.me),
            web.get("/api/users/@me/guilds", self.guilds),
        ]

    def _client_ok(self, client_id: str | None, secret: str | None) -> bool:
        return client_id == str(self.world.application_id) and secret == self.client_secret

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != str(self.world.application_id) or not redirect or q.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        back = {"state": q["state"]} if "state" in q else {}
        if self.user is None:
            raise web.HTTPFound(f"{redirect}?{urlencode({'error': 'access_denied', **back})}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = OAuthGrant(self.user.id, tuple(q.get("scope", "").split()), redirect)
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, **back})}")

    async def token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if not self._client_ok(str(client_id) if client_id else None, str(secret) if secret else None):
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = self.codes.pop(str(form.get("code", "")), None)
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.redirect_uri != form.get("redirect_uri")
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant
        return web.json_response(
            {"access_token": access, "token_type": "Bearer", "expires_in": 604800, "scope": " ".join(grant.scopes)}
        )

    def _grant(self, request: web.Request, scope: str) -> OAuthGrant:
        auth = request.headers.get("Authorization", "")
        grant = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if grant is None or scope not in grant.scopes:
            raise web.HTTPUnauthorized(
                text='{"message": "401: Unauthorized", "code": 0}', content_type="application/json"
            )
        return grant

    async def me(self, request: web.Request) -> web.StreamResponse:
        grant = self._grant(request, "identify")
        return web.json_response(user_payload(self.world.users[grant.user_id]))

    async def guilds(self, request: web.Request) -> web.StreamResponse:
        grant = self._grant(request, "guilds")
        return web.json_response(
            [
                {"id": str(g.id), "name": g.name, "icon": None, "owner": g.owner_id == grant.user_id}
                for g in self.world.guilds.values()
                if grant.user_id in g.members
            ]
        )
