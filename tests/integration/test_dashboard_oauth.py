""" "Log in with Discord" end to end against the sandbox's OAuth2 endpoints, both backends."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import load_settings
from bot.web.oauth import OAuthConfig, oauth_config
from bot.web.server import Dashboard, StaticFile, load_static
from db.dashboard import SeenMember, save_members
from db.reports import Reports, Snapshots
from sandbox import SandboxDiscord
from sandbox.state import SandboxGuild, SandboxMember
from tests.conftest import Backend

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def static() -> dict[str, StaticFile]:
    return load_static()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Flow:
    sb: SandboxDiscord
    client: TestClient  # type: ignore[type-arg]
    first: SandboxGuild
    second: SandboxGuild
    ana: SandboxMember
    stranger: SandboxMember

    async def authorize(self, login: aiohttp.ClientResponse) -> str:
        """The browser at Discord's consent page (approved at once): the callback path it is sent back to."""
        assert login.status == 303
        async with aiohttp.ClientSession() as browser:
            consent = await browser.get(login.headers["Location"], allow_redirects=False)
            assert consent.status == 302
            back = consent.headers["Location"]
        return back.split(str(self.client.port), 1)[1]


@pytest.fixture
async def flow(backend: Backend, static: dict[str, StaticFile]) -> AsyncIterator[Flow]:
    async with SandboxDiscord() as sb:
        first = sb.add_guild("First <b>guild</b>")
        second = sb.add_guild("Second guild")
        ana = sb.add_member(first, "ana")
        sb.add_member(second, ana.user)
        stranger = sb.add_member(first, "stranger")
        await save_members(
            backend.engine,
            [
                SeenMember(first.id, ana.user.id, "Ana", (), False, False),
                SeenMember(second.id, ana.user.id, "Ana", (), True, True),
            ],
            NOW,
        )
        port = free_port()
        oauth = OAuthConfig(
            str(sb.application_id), sb.oauth.client_secret, f"http://127.0.0.1:{port}/oauth/callback", sb.url
        )
        dashboard = Dashboard(
            backend.engine,
            Reports(backend.engine, Snapshots()),
            secret="s",
            base_url=f"http://127.0.0.1:{port}",
            clock=NOW.timestamp,
            static=static,
            oauth=oauth,
        )
        async with TestClient(TestServer(dashboard.app(), port=port)) as client:
            yield Flow(sb, client, first, second, ana, stranger)


async def test_log_in_with_discord_opens_a_session_for_each_guild_with_access(flow: Flow) -> None:
    home = await (await flow.client.get("/")).text()
    assert 'href="/oauth/login"' in home
    flow.sb.oauth.login_as(flow.ana.user)
    login = await flow.client.get("/oauth/login", allow_redirects=False)
    assert "scope=identify+guilds" in login.headers["Location"]
    assert "HttpOnly" in login.headers["Set-Cookie"] and "SameSite=Lax" in login.headers["Set-Cookie"]
    callback = await flow.authorize(login)
    page = await flow.client.get(callback, allow_redirects=False)
    text = await page.text()
    assert page.status == 200, text
    # Two guilds with access: a chooser, names escaped; a session cookie for each.
    assert "First &lt;b&gt;guild&lt;/b&gt;" in text and "Second guild" in text
    for guild in (flow.first, flow.second):
        assert (await flow.client.get(f"/g/{guild.id}/")).status == 200
    assert (await flow.client.get(f"/g/{flow.second.id}/members")).status == 200  # admin there
    assert (await flow.client.get(f"/g/{flow.first.id}/members")).status == 403  # a member here
    # The code was used up: the same callback again is refused.
    again = await flow.client.get(callback, allow_redirects=False)
    assert again.status == 403


async def test_a_forged_state_and_a_member_the_bot_never_saw_are_refused(flow: Flow) -> None:
    flow.sb.oauth.login_as(flow.ana.user)
    login = await flow.client.get("/oauth/login", allow_redirects=False)
    callback = await flow.authorize(login)
    forged = callback.replace("state=", "state=x")
    assert (await flow.client.get(forged, allow_redirects=False)).status == 403
    flow.client.session.cookie_jar.clear()
    flow.sb.oauth.login_as(flow.stranger.user)
    login = await flow.client.get("/oauth/login", allow_redirects=False)
    refused = await flow.client.get(await flow.authorize(login), allow_redirects=False)
    assert refused.status == 403 and "None of your servers" in await refused.text()


def test_oauth_is_on_only_with_both_settings() -> None:
    assert oauth_config(load_settings(DASHBOARD_OAUTH_CLIENT_ID=None, DASHBOARD_OAUTH_CLIENT_SECRET=None)) is None
    config = oauth_config(
        load_settings(
            DASHBOARD_OAUTH_CLIENT_ID="1", DASHBOARD_OAUTH_CLIENT_SECRET="x", DASHBOARD_URL="https://d.example"
        )
    )
    assert config is not None and config.redirect_uri == "https://d.example/oauth/callback"
