"""Which invite a member joined with, from two looks at a guild's invite use counts.

Exactly one invite grew by one → that invite; the vanity URL's uses grew by one →
``vanity``; an invite that vanished since the last look with one use left (max uses
reached) is the one used when it is the only candidate. Anything else — two joins
between two looks, nothing grew, a failed look — is ``unknown``: never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

VANITY: Final = "vanity"
UNKNOWN: Final = "unknown"
# An invite deleted (INVITE_DELETE) this long before the join may still be the one used.
VANISH_WINDOW_S: Final = 30


@dataclass(slots=True)
class InviteInfo:
    """An invite as last seen."""

    code: str
    inviter_id: int | None
    channel_id: int | None
    max_uses: int
    max_age: int
    created_at: int | None
    uses: int
    deleted_at: int | None = None

    def expired(self, now: int) -> bool:
        return bool(self.max_age) and self.created_at is not None and self.created_at + self.max_age <= now


@dataclass(slots=True)
class InviteLook:
    """One look at a guild's invites; ``vanity_uses`` None when the guild has no vanity URL."""

    invites: dict[str, InviteInfo] = field(default_factory=dict)
    vanity_uses: int | None = None
    # False when the guild has a vanity URL whose uses could not be read.
    vanity_known: bool = True


def attribute(before: InviteLook | None, after: InviteLook | None, now: int) -> tuple[str, int | None]:
    """(invite code or ``vanity`` or ``unknown``, inviter id) of the one join between two looks."""
    if before is None or after is None:
        return UNKNOWN, None
    candidates: list[tuple[str, int | None, int]] = []
    for code, inv in after.invites.items():
        old = before.invites.get(code)
        grew = inv.uses - (old.uses if old is not None else 0)
        if grew > 0:
            candidates.append((code, inv.inviter_id, grew))
    for code, old in before.invites.items():
        if code in after.invites or not old.max_uses or old.uses + 1 != old.max_uses or old.expired(now):
            continue
        if old.deleted_at is None or now - old.deleted_at <= VANISH_WINDOW_S:
            candidates.append((code, old.inviter_id, 1))
    if not (before.vanity_known and after.vanity_known):
        return UNKNOWN, None  # the vanity URL may have been used: no certainty
    if before.vanity_uses is not None and after.vanity_uses is not None and after.vanity_uses > before.vanity_uses:
        candidates.append((VANITY, None, after.vanity_uses - before.vanity_uses))
    if len(candidates) == 1 and candidates[0][2] == 1:
        code, inviter, _ = candidates[0]
        return code, inviter
    return UNKNOWN, None
