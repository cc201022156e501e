"""Buttons under a report reply that switch its period without retyping the command.

A reply to a command with a ``period`` option carries one button per period; pressing one
runs the same command again with the same options and that period, as the member who
pressed it (their permissions and cooldowns apply), and the answer comes as a new reply
with buttons of its own. The buttons live in the process for ``VIEW_TIMEOUT_S``, then are
taken off the reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import discord
from discord import app_commands
from discord.utils import maybe_coroutine

from bot.commands.errors import message_for, reply_error
from bot.commands.options import PERIOD_WORDS

log = logging.getLogger(__name__)

# Under the interaction token's 15 minutes, so that the buttons can still be taken off after it.
VIEW_TIMEOUT_S: Final = 14 * 60.0
# The periods offered as buttons, with short labels (a row holds five buttons).
BUTTONS: Final = {"24h": "24 h", "7d": "7 days", "30d": "30 days", "90d": "90 days", "all": "All time"}
# Where a re-run keeps what it re-runs, so that its own reply gets buttons too.
EXTRAS_KEY: Final = "period-switch"


@dataclass(frozen=True, slots=True)
class Rerun:
    """A report command and the options it ran with (``period`` among them)."""

    command: app_commands.Command[Any, ..., Any]
    options: dict[str, Any]

    @property
    def period(self) -> str:
        return str(self.options.get("period", ""))


def rerun_of(interaction: discord.Interaction) -> Rerun | None:
    """The command an interaction ran, with its options, if it has a ``period`` option; else None."""
    kept = interaction.extras.get(EXTRAS_KEY)
    if isinstance(kept, Rerun):
        return kept
    command = interaction.command
    if not isinstance(command, app_commands.Command) or "period" not in {p.name for p in command.parameters}:
        return None
    options = {p.name: getattr(interaction.namespace, p.name, None) for p in command.parameters}
    options = {k: v for k, v in options.items() if v is not None}
    if "period" not in options:
        options["period"] = next(p.default for p in command.parameters if p.name == "period")
    return Rerun(command, options)


class PeriodButtons(discord.ui.View):
    """One button per period under a report; the current one is shown pressed and disabled."""

    def __init__(self, rerun: Rerun, timeout: float = VIEW_TIMEOUT_S) -> None:
        super().__init__(timeout=timeout)
        self.rerun = rerun
        self.message: discord.WebhookMessage | None = None  # the reply carrying the buttons, once sent
        for value, label in BUTTONS.items():
            current = value == rerun.period
            button: discord.ui.Button[PeriodButtons] = discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary if current else discord.ButtonStyle.secondary,
                disabled=current,
            )
            button.callback = self._switch_to(value)  # type: ignore[method-assign]
            self.add_item(button)

    async def on_timeout(self) -> None:
        """Take the buttons off the reply: pressed later, they would fail on Discord's side."""
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except discord.HTTPException:  # the reply is gone, or the interaction's token expired
            log.debug("could not remove the period buttons of message %s", self.message.id)

    def _switch_to(self, period: str) -> Any:
        async def switch(interaction: discord.Interaction) -> None:
            await self.run(interaction, period)

        return switch

    async def run(self, interaction: discord.Interaction, period: str) -> None:
        """Run the command again with ``period``, as the member who pressed; errors as one ephemeral line."""
        command = self.rerun.command
        again = Rerun(command, {**self.rerun.options, "period": period})
        interaction.extras[EXTRAS_KEY] = again
        try:
            for check in command.checks:  # its cooldowns and permission checks, as for a typed command
                if not await maybe_coroutine(check, interaction):
                    raise app_commands.CheckFailure(f"You cannot run /{command.qualified_name} here.")
            await command.callback(command.binding, interaction, **again.options)  # type: ignore[arg-type]
        except Exception as error:
            if not isinstance(error, app_commands.AppCommandError) and message_for(error).startswith("Something"):
                log.error("period switch of /%s failed", command.qualified_name, exc_info=error)
            await reply_error(interaction, message_for(error))


def period_buttons(interaction: discord.Interaction) -> PeriodButtons | None:
    """Buttons for a reply to ``interaction``, when its command has a period to switch; else None."""
    rerun = rerun_of(interaction)
    if rerun is None or rerun.period not in PERIOD_WORDS:
        return None
    return PeriodButtons(rerun)
