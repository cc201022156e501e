"""The demo's synthetic community: deterministic for a seed, and its ground truth adds up."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from demo.community import (
    HISTORY_DAYS,
    HOUR,
    LIVE_SECONDS,
    VOICE_CHANNELS,
    build_community,
    ground_truth,
)

ANCHOR = datetime(2026, 11, 16, 12, tzinfo=UTC)


def test_same_seed_same_community_and_truth() -> None:
    a, b = build_community(7, ANCHOR), build_community(7, ANCHOR)
    assert a == b
    assert ground_truth(a) == ground_truth(b)
    other = build_community(8, ANCHOR)
    assert other.history != a.history


def test_shape_of_the_guild() -> None:
    c = build_community(3, ANCHOR)
    humans = c.humans()
    assert 35 <= len(c.members) <= 45
    assert sum(m.bot for m in c.members) == 2
    assert 2 <= len(c.with_role("Mentor")) <= 5
    kinds = Counter(ch.kind for ch in c.channels)
    assert kinds["text"] >= 3 and kinds["voice"] >= 4 and kinds["forum"] == 1 and kinds["thread"] >= 1
    assert sum(ch.afk for ch in c.channels) == 1
    assert {inv.inviter for inv in c.invites} <= set(humans)
    first = c.anchor - HISTORY_DAYS * 86400
    assert all(first <= m.at < c.anchor for m in c.history)
    assert all(c.anchor <= e.at < c.anchor + LIVE_SECONDS for e in c.live)
    assert [e.at for e in c.live] == sorted(e.at for e in c.live)
    assert any("\u200d" in m.content for m in c.history)  # a ZWJ emoji sequence
    assert any("<:" in m.content for m in c.history)  # a custom emoji
    assert {e.kind for e in c.live} == {"message", "reaction", "voice", "join", "leave"}


def test_replies_point_to_earlier_messages_of_the_same_channel() -> None:
    c = build_community(7, ANCHOR)
    messages = {m.index: m for m in c.messages()}
    assert sorted(messages) == list(range(len(messages)))
    replies = [m for m in messages.values() if m.reply_to is not None]
    assert replies
    for m in replies:
        assert m.reply_to is not None
        target = messages[m.reply_to]
        assert target.index < m.index and target.channel == m.channel and target.at <= m.at


def test_message_truth_adds_up() -> None:
    c = build_community(7, ANCHOR)
    truth = ground_truth(c)
    bots = {m.key for m in c.members if m.bot}
    counted = [m for m in c.messages() if m.author not in bots]
    assert len(counted) < len(c.messages())  # bots posted, and they are left out
    totals = truth.messages.values()
    assert sum(t.messages for t in totals) == len(counted)
    assert sum(t.characters for t in totals) == sum(len(m.content) for m in counted)
    assert sum(t.attachments for t in totals) == sum(m.attachments for m in counted)
    assert sum(t.replies for t in totals) == sum(m.reply_to is not None for m in counted)
    assert all(hour % HOUR == 0 for _c, _u, hour in truth.messages)
    assert not any(u in bots for _c, u, _h in truth.messages)
    # Emojis in content, counted from the text itself.
    in_text: Counter[tuple[str, str]] = Counter()
    for m in counted:
        for e in set(m.emojis):
            in_text[(m.author, e)] += m.content.count(e)
    from_truth = {(u, e): n for (u, e, kind), n in truth.emojis.items() if kind == "message"}
    assert from_truth == {k: v for k, v in in_text.items() if v}
    reactions = sum(n for (_u, _e, kind), n in truth.emojis.items() if kind == "reaction")
    assert reactions == sum(1 for e in c.live if e.kind == "reaction")


def test_voice_truth_matches_each_members_own_timeline() -> None:
    c = build_community(7, ANCHOR)
    truth = ground_truth(c)
    afk = {ch.key for ch in c.channels if ch.afk}
    # Per member: seconds in a non-AFK voice channel, from that member's own events only.
    expected: Counter[str] = Counter()
    where: dict[str, tuple[str | None, int]] = {}
    for e in c.live:
        if e.kind not in ("voice", "leave"):
            continue
        room, since = where.get(e.user, (None, e.at))
        if room is not None and room not in afk:
            expected[e.user] += e.at - since
        where[e.user] = (e.channel if e.kind == "voice" else None, e.at)
    assert all(room is None for room, _ in where.values())  # everyone left voice by the end
    got = {
        u: sum(v for b, v in buckets.items() if b not in ("streaming_s", "video_s"))
        for u, buckets in truth.member_voice().items()
    }
    assert got == {u: s for u, s in expected.items() if s}
    assert {ch for ch, _u, _h in truth.voice} <= set(VOICE_CHANNELS)
    buckets: Counter[str] = Counter()
    for b in truth.voice.values():
        buckets.update(b)
    assert buckets["active_s"] > 0 and buckets["alone_s"] > 0 and buckets["muted_s"] > 0


def test_joins_come_through_known_invites() -> None:
    c = build_community(7, ANCHOR)
    truth = ground_truth(c)
    assert set(truth.joins) == set(c.joiners)
    assert set(truth.joins.values()) <= {inv.code for inv in c.invites}
