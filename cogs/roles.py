"""/roles: activity roles — rules that give a role to the members who meet them and take it from those who no longer do.

Stores the rules in ``role_rules`` (db/roles.py); no member data. A rule is saved
off: ``/roles preview`` shows who would gain and lose the role now, ``/roles apply``
turns it on and applies it, and an hourly pass applies every enabled rule again.
Applying is idempotent: the changes are the difference between who the rule selects
(bot.analytics.rules, on the stored history) and who holds the role, so a second
run changes nothing. Each change goes through Discord's API one at a time, with an
audit-log reason; discord.py keeps to the route's rate limit (and waits out a 429),
and a pass makes at most ``MAX_CHANGES_PER_PASS`` changes per rule, the rest
following at the next pass. Before saving a rule the bot checks that it can manage
the role (Manage Roles, a role below its highest one, not managed by an integration).
Bots are never given or stripped of a role; opted-out members are never selected.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import discord
import numpy as np
import numpy.typing as npt
from discord import app_commands
from discord.ext import commands

from bot.analytics.attendance import presence
from bot.analytics.periods import parse_timezone
from bot.analytics.rules import (
    KINDS,
    MAX_WINDOW_DAYS,
    METRICS,
    RoleChanges,
    RuleSpec,
    role_changes,
    select,
    select_periods,
    validate,
)
from bot.commands.errors import UserError
from bot.commands.permissions import require_manage
from bot.posts.attendance import event_channels, plans
from bot.posts.posting import NO_MENTIONS, PostLoop
from bot.posts.schedule import occurrences
from db import events as events_db
from db import roles as repo
from db.days import local_days, local_midnight
from db.guilds import get_settings
from db.mentor import MentorData

if TYPE_CHECKING:
    from bot.app import StatsBot

log = logging.getLogger(__name__)

APPLY_EVERY: Final = timedelta(hours=1)
MAX_CHANGES_PER_PASS: Final = 1000
LIST_LIMIT: Final = 1900
SHOWN_MEMBERS: Final = 30
MAX_VALUE: Final = 1_000_000
MAX_WEEKS: Final = 52
# Rule numbers, offered by autocomplete.
RuleId = app_commands.Range[int, 1, 2**31 - 1]


def cannot_manage(guild: discord.Guild, role: discord.Role) -> str | None:
    """Why the bot cannot give and take ``role`` (one sentence), or None when it can."""
    me = guild.me
    if role.is_default():
        return "@everyone cannot be an activity role; pick another role."
    if role.managed:
        return f"{role.name} is managed by an integration, so Discord does not let bots give or take it."
    if not me.guild_permissions.manage_roles:
        return "I need the Manage Roles permission to give and take roles; grant it to my role first."
    if role >= me.top_role:
        return (
            f"{role.name} is not below my highest role ({me.top_role.name}), so Discord does not let me give it; "
            "move my role above it in Server Settings → Roles."
        )
    return None


def spec_of(rule: repo.RoleRule) -> RuleSpec:
    """The pure rule of a stored one."""
    return RuleSpec(rule.metric, rule.kind, rule.value, rule.days, rule.weeks)


def rule_line(guild: discord.Guild, rule: repo.RoleRule) -> str:
    """One rule in words: ``#3 @Active — at least … (on)``."""
    role = guild.get_role(rule.role_id)
    name = role.mention if role is not None else f"deleted role {rule.role_id}"
    state = "applied hourly" if rule.enabled else "preview only until /roles apply"
    return f"#{rule.id} {name} — {spec_of(rule).describe()} ({state})"


def members_text(ids: tuple[int, ...], limit: int = SHOWN_MEMBERS) -> str:
    """Mentions of the first ``limit`` members, then how many more."""
    shown = " ".join(f"<@{u}>" for u in ids[:limit])
    rest = len(ids) - limit
    return shown + (f" …and {rest} more" if rest > 0 else "")


def changes_text(rule: repo.RoleRule, role: discord.Role, changes: RoleChanges, keep: int) -> str:
    """The preview: who would gain and lose the role now, and how many keep it."""
    lines = [f"Rule #{rule.id} for {role.mention}: {spec_of(rule).describe()}."]
    lines.append(f"Would gain it ({len(changes.gain)}): {members_text(changes.gain) or 'nobody'}")
    lines.append(f"Would lose it ({len(changes.lose)}): {members_text(changes.lose) or 'nobody'}")
    lines.append(f"Keep it: {keep}.")
    return "\n".join(lines)[:LIST_LIMIT]


class ActivityRoles(commands.Cog):
    """The /roles commands and the hourly pass that applies the enabled rules."""

    roles = app_commands.Group(
        name="roles",
        description="Roles that follow activity",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: StatsBot) -> None:
        self.bot = bot
        self.loop = PostLoop(bot, "activity roles", self.apply_due)
        self._warned: set[tuple[int, int]] = set()

    async def cog_load(self) -> None:
        self.loop.start()

    async def cog_unload(self) -> None:
        await self.loop.stop()

    def now(self) -> datetime:
        """The bot's clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.bot.clock(), UTC)

    @property
    def data(self) -> MentorData:
        """The daily activity reads (with the bot's snapshots and day closer)."""
        return MentorData(self.bot.engine, self.bot.reports.snapshots, self.bot.reports.days)

    # evaluation -----------------------------------------------------------------------------

    def eligible(self, guild: discord.Guild) -> set[int]:
        """Members a rule may give or take a role: in the guild, not bots, not opted out."""
        return {
            m.id for m in guild.members if not m.bot and not self.bot.optouts.excluded(guild.id, m.id)
        }  # fmt: skip

    async def selected(self, guild: discord.Guild, rule: repo.RoleRule, now: datetime) -> frozenset[int]:
        """The members the rule selects now, on the stored history."""
        settings = await get_settings(self.bot.engine, guild.id)
        tz = parse_timezone(settings.timezone)
        spec = spec_of(rule)
        first = now.astimezone(tz).date() - timedelta(days=spec.window_days - 1)
        start = local_midnight(first, tz)
        members = self.eligible(guild)
        if spec.metric == "event_minutes":
            ids, per_day = await self.event_minutes(guild, start, now, tz)
            keep = np.fromiter((int(u) in members for u in ids), dtype=bool, count=ids.size)
            return select(spec, ids[keep], per_day[keep])
        sums = await repo.period_sums(self.data, guild.id, start, now, tz, spec.days, spec.metric)
        values = sums.values / 60.0 if spec.metric == "voice" else sums.values  # rules count voice in minutes
        ids = sums.member_ids
        keep = np.fromiter((int(u) in members for u in ids), dtype=bool, count=ids.size)
        return select_periods(spec, ids[keep], values[keep])

    async def event_minutes(
        self, guild: discord.Guild, start: datetime, end: datetime, tz: ZoneInfo
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Event minutes per member and local day of ``[start, end)``: the occurrences that started in it and
        ended, with the event reports' 30-second rule, from one read of the window's voice sessions."""
        days = local_days(start, end, tz)
        first = days[0].date
        events = await events_db.list_events(self.bot.engine, guild.id)
        stored = await events_db.stored_channel_names(self.bot.engine, guild.id)
        sessions = await repo.window_sessions(self.bot.engine, guild.id, start, end) if events else []
        totals: dict[int, np.ndarray[tuple[int], np.dtype[np.float64]]] = {}
        for event, plan in zip(events, plans(events), strict=True):
            channels = event_channels(guild, event, stored)
            if not channels:
                continue
            for occ in occurrences(plan, start, end, tz):
                if occ.start < start:
                    continue
                flags = presence(sessions, int(occ.start.timestamp()), occ.minutes, channels.keys())
                column = (occ.local_start.date() - first).days
                for user, row in flags.items():
                    totals.setdefault(user, np.zeros(len(days)))[column] += int(row.sum())
        ids = np.array(sorted(totals), dtype=np.int64)
        matrix = np.array([totals[int(u)] for u in ids], dtype=np.float64).reshape(ids.size, len(days))
        return ids, matrix

    async def changes(self, guild: discord.Guild, rule: repo.RoleRule, role: discord.Role) -> RoleChanges:
        """Who gains and who loses the rule's role if it were applied now."""
        chosen = await self.selected(guild, rule, self.now())
        return role_changes(chosen, {m.id for m in role.members}, self.eligible(guild))

    async def apply(self, guild: discord.Guild, rule: repo.RoleRule) -> tuple[RoleChanges, int]:
        """Apply one rule through Discord's API; the changes and how many were made."""
        role = guild.get_role(rule.role_id)
        if role is None:
            raise UserError(f"The role of rule #{rule.id} no longer exists; remove the rule with /roles remove.")
        problem = cannot_manage(guild, role)
        if problem is not None:
            raise UserError(problem)
        changes = await self.changes(guild, rule, role)
        reason = f"Activity role rule #{rule.id}: {spec_of(rule).describe()}"[:512]
        done = 0
        plan = [(u, True) for u in changes.gain] + [(u, False) for u in changes.lose]
        for user_id, give in plan[:MAX_CHANGES_PER_PASS]:
            member = guild.get_member(user_id)
            if member is None:
                continue
            try:
                if give:
                    await member.add_roles(role, reason=reason)
                else:
                    await member.remove_roles(role, reason=reason)
            except discord.NotFound:
                continue  # left in the meantime
            done += 1
        if len(plan) > MAX_CHANGES_PER_PASS:
            log.info("rule %s of guild %s: %d changes left for the next pass", rule.id, guild.id, len(plan) - done)
        return changes, done

    # the hourly pass --------------------------------------------------------------------------

    async def apply_due(self, now: datetime) -> datetime:
        """Apply every enabled rule of every guild; the next pass is at the next whole hour."""
        guilds = await repo.rule_guilds(self.bot.engine)
        for guild in list(self.bot.guilds):
            if guild.unavailable or guild.id not in guilds:
                continue
            for rule in await repo.list_rules(self.bot.engine, guild.id):
                if not rule.enabled:
                    continue
                try:
                    await self.apply(guild, rule)
                    self._warned.discard((guild.id, rule.id))
                except UserError as problem:
                    if (guild.id, rule.id) not in self._warned:
                        self._warned.add((guild.id, rule.id))
                        log.warning("rule %s of guild %s is skipped: %s", rule.id, guild.id, problem)
                except discord.HTTPException as error:
                    log.warning("rule %s of guild %s: Discord refused a change (%s)", rule.id, guild.id, error.status)
        hour = now.replace(minute=0, second=0, microsecond=0)
        return hour + APPLY_EVERY

    # commands ----------------------------------------------------------------------------------

    async def _rule(self, guild: discord.Guild, rule_id: int) -> repo.RoleRule:
        rule = await repo.get_rule(self.bot.engine, guild.id, rule_id)
        if rule is None:
            raise UserError(f"There is no rule #{rule_id} in this server; /roles list shows them.")
        return rule

    @roles.command(name="add", description="Add an activity role rule (saved off: preview it, then apply)")
    @app_commands.describe(
        role="The role the rule gives and takes",
        metric="What is measured",
        kind="threshold: at least value; top: the value members with the most",
        value="The threshold, or how many members a top rule selects",
        days="Over the last this many days (today included)",
        weeks="Threshold only: repeat the period this many times; each must reach the value",
    )
    @app_commands.choices(
        metric=[app_commands.Choice(name=m, value=m) for m in METRICS],
        kind=[app_commands.Choice(name=k, value=k) for k in KINDS],
    )
    async def add(
        self,
        interaction: discord.Interaction,
        role: discord.Role,
        metric: str,
        kind: str,
        value: app_commands.Range[int, 1, MAX_VALUE],
        days: app_commands.Range[int, 1, MAX_WINDOW_DAYS],
        weeks: app_commands.Range[int, 1, MAX_WEEKS] | None = None,
    ) -> None:
        """Add an activity role rule."""
        member = require_manage(interaction)
        guild = member.guild
        spec = validate(RuleSpec(metric, kind, value, days, weeks))
        target = guild.get_role(role.id)
        if target is None:
            raise UserError("Pick a role of this server.")
        problem = cannot_manage(guild, target)
        if problem is not None:
            raise UserError(problem)
        rule = await repo.add_rule(
            self.bot.engine, guild.id, target.id, metric=metric, kind=kind, value=value, days=days, weeks=weeks,
            now=self.now(),
        )  # fmt: skip
        if rule is None:
            raise UserError(f"{target.name} already has a rule; remove it first with /roles remove.")
        await interaction.response.send_message(
            f"Rule #{rule.id} saved for {target.mention}: {spec.describe()}. It is off until you run "
            f"/roles apply rule:{rule.id}; /roles preview shows who would gain and lose the role.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @roles.command(name="remove", description="Remove an activity role rule (members keep the role as it is)")
    @app_commands.describe(rule="The rule")
    async def remove(self, interaction: discord.Interaction, rule: RuleId) -> None:
        """Remove a rule."""
        member = require_manage(interaction)
        removed = await repo.remove_rule(self.bot.engine, member.guild.id, rule)
        if removed is None:
            raise UserError(f"There is no rule #{rule} in this server; /roles list shows them.")
        await interaction.response.send_message(
            f"Rule #{rule} removed; members keep or lack the role as they do now.", ephemeral=True
        )

    @roles.command(name="list", description="The activity role rules of this server")
    async def list_(self, interaction: discord.Interaction) -> None:
        """List the rules."""
        member = require_manage(interaction)
        rules = await repo.list_rules(self.bot.engine, member.guild.id)
        text = "\n".join(rule_line(member.guild, r) for r in rules) if rules else "No activity role rules yet."
        await interaction.response.send_message(text[:LIST_LIMIT], ephemeral=True, allowed_mentions=NO_MENTIONS)

    @roles.command(name="preview", description="Who would gain and lose a rule's role now")
    @app_commands.describe(rule="The rule")
    async def preview(self, interaction: discord.Interaction, rule: RuleId) -> None:
        """Who would gain and lose the role now, on the stored history."""
        member = require_manage(interaction)
        guild = member.guild
        found = await self._rule(guild, rule)
        role = guild.get_role(found.role_id)
        if role is None:
            raise UserError(f"The role of rule #{found.id} no longer exists; remove the rule with /roles remove.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        changes = await self.changes(guild, found, role)
        keep = len({m.id for m in role.members} & self.eligible(guild)) - len(changes.lose)
        await interaction.followup.send(
            changes_text(found, role, changes, keep), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @roles.command(name="apply", description="Apply a rule now (or every rule) and keep applying it hourly")
    @app_commands.describe(rule="The rule (default: every rule of this server)")
    async def apply_now(self, interaction: discord.Interaction, rule: RuleId | None = None) -> None:
        """Turn a rule on and apply it now."""
        member = require_manage(interaction)
        guild = member.guild
        rules = (
            [await self._rule(guild, rule)] if rule is not None else await repo.list_rules(self.bot.engine, guild.id)
        )
        if not rules:
            raise UserError("No activity role rules yet; add one with /roles add.")
        for found in rules:
            role = guild.get_role(found.role_id)
            problem = "its role no longer exists" if role is None else cannot_manage(guild, role)
            if problem is not None:
                raise UserError(f"Rule #{found.id} cannot be applied: {problem}"[:200])
        await interaction.response.defer(ephemeral=True, thinking=True)
        await repo.enable_rules(self.bot.engine, guild.id, [r.id for r in rules])
        lines = []
        for found in rules:
            changes, done = await self.apply(guild, found)
            left = len(changes.gain) + len(changes.lose) - done
            line = f"Rule #{found.id} <@&{found.role_id}>: {len(changes.gain)} gained it, {len(changes.lose)} lost it"
            lines.append(line + (f" ({left} more at the next hourly pass)." if left > 0 else "."))
        lines.append("Applied hourly from now on.")
        await interaction.followup.send("\n".join(lines)[:LIST_LIMIT], ephemeral=True, allowed_mentions=NO_MENTIONS)

    @remove.autocomplete("rule")
    @preview.autocomplete("rule")
    @apply_now.autocomplete("rule")
    async def rule_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        """The server's rules whose number, role or description matches what was typed."""
        guild = interaction.guild
        if guild is None:
            return []
        typed = current.strip().lower().lstrip("#")
        choices = []
        for rule in await repo.list_rules(self.bot.engine, guild.id):
            role = guild.get_role(rule.role_id)
            name = f"#{rule.id} {role.name if role else 'deleted role'} — {spec_of(rule).describe()}"
            if not typed or typed in name.lower():
                choices.append(app_commands.Choice(name=name[:100], value=rule.id))
        return choices[:25]


async def setup(bot: StatsBot) -> None:
    """Load the cog."""
    await bot.add_cog(ActivityRoles(bot))
