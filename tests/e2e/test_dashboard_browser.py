"""The demo's dashboard in headless Chromium: sign in through a real /dashboard link, open every page,
compare the figures shown with the demo's ground truth, no console errors, a screenshot of each page,
and a member named ``<img src=x onerror=alert(1)>`` executes nothing.

Needs Debian's ``chromium`` and ``chromium-driver`` (the test command installs them). Screenshots go
to ``tmp_path``; with ``STATSBOT_SCREENSHOTS=DIR`` also to ``DIR/dashboard-<page>.png`` (docs/).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.render.csvfile import DATASETS
from db.series import VOICE_BUCKETS
from demo.runner import TIMEZONE, DemoServing, Serve, flush, run_demo

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
XSS_NAME = "<img src=x onerror=alert(1)>"
WAIT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    """What the browser read, for the assertions made back in the test."""

    overview: dict[str, str] = field(default_factory=dict)
    members: dict[int, dict[str, str]] = field(default_factory=dict)
    member_page: dict[str, str] = field(default_factory=dict)
    watchlist_rows: int = -1
    inviters: dict[int, dict[str, str]] = field(default_factory=dict)
    occurrences: dict[str, list[str]] = field(default_factory=dict)
    grid_rows: int = -1
    grid_key: str = ""
    event_figures: dict[str, str] = field(default_factory=dict)
    weeks: int = -1
    week_rows: dict[str, list[str]] = field(default_factory=dict)
    exports: list[str] = field(default_factory=list)
    xss_text: str = ""
    alerts: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)


def drive(link: str, top_member: int, shots: Path, seen: Seen) -> None:
    """Chromium through every page (blocking: run in a thread while the demo's loop serves)."""
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={shots / 'profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        wait = WebDriverWait(driver, WAIT_S)

        def loaded(after: int = 0) -> None:
            wait.until(lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") or 0) > after)

        def switch_period(value: str) -> None:
            before = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") or 0)
            Select(driver.find_element(By.ID, "period")).select_by_value(value)
            loaded(before)

        def shoot(name: str) -> None:
            path = shots / f"dashboard-{name}.png"
            driver.save_screenshot(str(path))
            seen.shots.append(path)
            with contextlib.suppress(NoAlertPresentException):
                seen.alerts.append(driver.switch_to.alert.text)
            seen.console += driver.get_log("browser")  # type: ignore[no-untyped-call]

        def figures() -> dict[str, str]:
            return {
                f.get_attribute("data-metric") or "": f.find_element(By.CLASS_NAME, "value").text
                for f in driver.find_elements(By.CSS_SELECTOR, "#figures .figure")
            }

        def table(selector: str) -> dict[int, dict[str, str]]:
            heads = [
                th.get_attribute("data-key") or "" for th in driver.find_elements(By.CSS_SELECTOR, f"{selector} th")
            ]
            rows = {}
            for tr in driver.find_elements(By.CSS_SELECTOR, f"{selector} tbody tr"):
                cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                rows[int(tr.get_attribute("data-id") or 0)] = dict(zip(heads, cells, strict=False))
            return rows

        driver.get(link)  # the link signs in and redirects to the overview
        loaded()
        switch_period("all")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-activity .main-svg"))
        seen.overview = figures()
        shoot("overview")

        guild = driver.find_element(By.TAG_NAME, "body").get_attribute("data-guild")
        base = link.split("/login/")[0] + f"/g/{guild}"
        driver.get(base + "/members")
        loaded()
        switch_period("all")
        seen.members = table("#members")
        search = driver.find_element(By.ID, "search")
        search.send_keys("<img")
        seen.xss_text = "\n".join(a.text for a in driver.find_elements(By.CSS_SELECTOR, "#members tbody a"))
        search.clear()
        search.send_keys(" ")  # redraw everything for the screenshot
        shoot("members")

        driver.get(base + f"/members/{top_member}")
        loaded()
        switch_period("all")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-daily .main-svg"))
        seen.member_page = figures()
        shoot("member")

        driver.get(base + "/watchlist")
        loaded()
        seen.watchlist_rows = len(driver.find_elements(By.CSS_SELECTOR, "#watchlist tbody tr"))
        shoot("watchlist")

        driver.get(base + "/events")
        loaded()
        # The newest occurrence's minute grid opens by itself for a mentor or admin.
        wait.until(lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-grid") or 0) > 0)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-attendance .main-svg"))
        seen.event_figures = figures()
        seen.occurrences = {
            tr.get_attribute("data-key") or "": [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#occurrences tbody tr")
        }
        grid = driver.find_element(By.ID, "minute-grid")
        seen.grid_rows = int(grid.get_attribute("data-rows") or -1)
        seen.grid_key = grid.get_attribute("data-key") or ""
        seen.weeks = len(driver.find_elements(By.CSS_SELECTOR, "#weeks tbody tr"))
        seen.week_rows = {
            tr.get_attribute("data-week") or "": [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#weeks tbody tr")
        }
        # The whole page (the minute grid and the weekly summaries are below the fold).
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(1400, min(max(height + 40, 1000), 2400))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-attendance .main-svg"))
        shoot("events")
        driver.set_window_size(1400, 1000)

        driver.get(base + "/invites")
        loaded()
        switch_period("all")
        seen.inviters = table("#inviters")
        shoot("invites")

        driver.get(base + "/exports")
        seen.exports = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.export")]
        shoot("exports")
    finally:
        driver.quit()


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)), reason="no chromium")
async def test_the_demo_dashboard_in_chromium(tmp_path: Path) -> None:
    seen = Seen()
    expected: dict[str, Any] = {}

    async def browse(serving: DemoServing) -> None:
        sb, world, bot = serving.sb, serving.world, serving.bot
        # A member whose name is markup, with one message so that they show in the tables.
        user = sb.add_user("xss")
        user.global_name = XSS_NAME  # the display name Discord would show
        xss = await sb.member_join(world.guild, user)
        await sb.send_message(world.channels["general"], xss.user, "hello")
        await sb.barrier()
        await flush(bot)
        cog: Any = bot.get_cog("Dashboard")
        await cog.save_now()
        users = {key: user.id for key, user in world.users.items()}
        truth_messages = serving.truth.member_messages()
        voice = serving.truth.member_voice()
        expected["total"] = sum(truth_messages.values()) + 1
        expected["messages"] = {users[k]: n for k, n in truth_messages.items() if k in users} | {xss.user.id: 1}
        expected["voice"] = {users[k]: round(sum(b[x] for x in VOICE_BUCKETS) / 60) for k, b in voice.items()}
        top_key = truth_messages.most_common(1)[0][0]
        expected["top"] = users[top_key]
        expected["xss"] = xss.user.id
        # The watchlist as /mentor watchlist answers it (default period 30d, as the page's).
        asked = await sb.invoke(
            world.guild, world.channels["general"], world.users[serving.who["mentor"]], "mentor watchlist"
        )
        await asked.final(timeout=30)
        fields = {f["name"]: f["value"] for f in asked.replies[-1].message.embeds[0]["fields"]}
        expected["at_risk"] = int(fields["At risk"])
        # The event hour as /event report answers it (the demo's event: an hour from the anchor).
        local = datetime.fromtimestamp(serving.community.anchor, UTC).astimezone(ZoneInfo(TIMEZONE))
        asked = await sb.invoke(
            world.guild,
            world.channels["general"],
            world.users[serving.who["member"]],
            "event report",
            {"date": local.date().isoformat(), "start": local.strftime("%H:%M")},
        )
        await asked.final(timeout=30)
        fields = {f["name"]: f["value"] for f in asked.replies[-1].message.embeds[0]["fields"]}
        expected["event"] = (local.strftime("%Y-%m-%d %H:%M"), number(fields["Members present"]))
        expected["event_minutes"] = number(fields["Member-minutes"])
        # The weekly summary as /report weekly posts it: the week's label, its members never present.
        asked = await sb.invoke(
            world.guild, world.channels["general"], world.users[serving.who["admin"]], "report weekly"
        )
        await asked.final(timeout=30)
        embed = asked.replies[-1].message.embeds[0]
        never = next(f for f in embed["fields"] if f["name"].startswith("Never at an event"))
        expected["week"] = embed["title"].rsplit(" ", 1)[-1]
        expected["never"] = sorted(never["value"].split(", ")) if "(" in never["name"] else []
        link = await serving.dashboard_link("admin")
        await asyncio.to_thread(drive, link, users[top_key], tmp_path, seen)

    port = free_port()
    result = await run_demo(tmp_path / "out", stream=None, serve=Serve(port, browse))
    assert result.unexpected_errors == 0

    assert number(seen.overview["messages"]) == expected["total"]
    shown = {uid: number(row["messages"]) for uid, row in seen.members.items()}
    for uid, n in expected["messages"].items():
        assert shown.get(uid, 0) == n, uid
    for uid, minutes in expected["voice"].items():
        if minutes:
            assert number(seen.members[uid]["voice_minutes"]) == minutes, uid
    assert number(seen.member_page["Messages"]) == expected["messages"][expected["top"]]
    assert seen.watchlist_rows == expected["at_risk"] > 0
    # The demo's event: the dashboard shows the occurrence as /event report counts it.
    start, present = expected["event"]
    [row] = [cells for cells in seen.occurrences.values() if cells[0] == start]
    assert (number(row[3]), number(row[4])) == (present, expected["event_minutes"]) and present > 0
    assert seen.grid_key.startswith(start.replace(" ", "T")) and seen.grid_rows == present
    assert number(seen.event_figures["member_minutes"]) >= expected["event_minutes"]
    assert seen.weeks >= 1
    # The past week is judged as the weekly summary judges it: the same members never present.
    week = seen.week_rows[expected["week"]]
    assert sorted(week[-1].split(", ")) == expected["never"] and expected["never"]
    assert seen.inviters, "the demo's invites should show inviters"
    assert seen.exports == [f"{d}.csv" for d in DATASETS]
    # The markup is shown as text, and nothing ran.
    assert seen.members[expected["xss"]]["name"] == XSS_NAME
    assert XSS_NAME in seen.xss_text
    assert seen.alerts == []
    errors = [entry for entry in seen.console if entry.get("level") == "SEVERE"]
    assert errors == []
    assert len(seen.shots) == 7 and all(p.stat().st_size > 10_000 for p in seen.shots)
    target = os.environ.get("STATSBOT_SCREENSHOTS")
    if target:
        await asyncio.to_thread(copy_shots, seen.shots, Path(target))


def copy_shots(shots: list[Path], target: Path) -> None:
    """The screenshots into ``target`` (docs/) as well."""
    target.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        shutil.copyfile(shot, target / shot.name)
