"""Redis field encoding: every key survives the round trip; text cannot break the format."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.buffer.codec import (
    SEP,
    WIRE_SERIES,
    RawCounters,
    decode_record,
    decode_rows,
    decode_value,
    encode_key,
    encode_value,
)
from bot.buffer.store import Batch, group_counters
from db.series import RECORD_KINDS, SERIES, part_of
from tests.support.counts import redis_hashes

ids = st.integers(min_value=0, max_value=2**63 - 1)
text = st.text(min_size=0, max_size=20)


@st.composite
def counter_keys(draw: st.DrawFn) -> tuple[int | str, ...]:
    series = draw(st.sampled_from(list(SERIES.values())))
    dims = tuple(draw(ids) if typ is int else draw(text) for typ in series.dim_types)
    hour = draw(st.integers(0, 2**40)) * 3600
    return (series.code, draw(ids), hour, *dims, draw(st.sampled_from(series.fields)))


@given(st.lists(st.tuples(counter_keys(), st.integers(1, 10**9)), min_size=1, max_size=30))
def test_counter_rows_round_trip(items: list[tuple[tuple[int | str, ...], int]]) -> None:
    counters: dict[tuple[int | str, ...], int] = {}
    for k, n in items:
        counters[k] = counters.get(k, 0) + n
    rows = group_counters(counters)
    guilds, hashes = redis_hashes(rows)
    decoded = decode_rows(guilds, hashes)
    assert {c: r for c, r in decoded.items() if r} == {c: r for c, r in rows.items() if r}


@given(st.sampled_from(list(RECORD_KINDS.values())), ids, st.data())
def test_record_keys_round_trip(kind, guild, data) -> None:  # type: ignore[no-untyped-def]
    ident = tuple(
        data.draw(ids) if t is int else data.draw(text.filter(lambda s: SEP not in s)) for t in kind.identity_types
    )
    key = (kind.code, guild, *ident)
    g, field = encode_key(key)
    assert decode_record(g, field) == key
    value = tuple(data.draw(st.one_of(st.none(), ids, text)) for _ in kind.values)
    assert decode_value(encode_value(value)) == value


def _from_lines(lines: list[bytes]) -> dict[tuple[int | str, ...], list[int]]:
    """COPY text lines (ids only) back into row keys and values."""
    out: dict[tuple[int | str, ...], list[int]] = {}
    for line in lines:
        cells = [int(c) for c in line.split(b"\t")]
        out[tuple(cells[:4])] = cells[4:]
    return out


@given(
    st.lists(st.tuples(counter_keys(), st.integers(-(10**9), 10**9)), min_size=1, max_size=40),
    st.sampled_from([1, 2, 5]),
)
def test_copy_lines_hold_the_same_rows_in_the_parts_of_their_members(
    items: list[tuple[tuple[int | str, ...], int]], parts: int
) -> None:
    counters: dict[tuple[int | str, ...], int] = {}
    for k, n in items:
        counters[k] = counters.get(k, 0) + n
    rows = group_counters(counters)
    raw = RawCounters(*redis_hashes(rows))
    lines, rest = raw.copy_lines(parts)
    assert len(lines) == parts
    for code, series_rows in rows.items():
        if code not in WIRE_SERIES:
            assert rest[code] == series_rows
            continue
        assert not rest[code]
        user_at = SERIES[code].user_dim - 1
        for part in range(parts):
            want = {key: vals for key, vals in series_rows.items() if part_of(int(key[user_at]), parts) == part}
            assert _from_lines(lines[part][code]) == want


@given(st.lists(st.tuples(counter_keys(), st.integers(1, 10**9)), min_size=1, max_size=40), st.data())
def test_raw_counters_drop_opted_out_members_like_decoded_rows(
    items: list[tuple[tuple[int | str, ...], int]], data: st.DataObject
) -> None:
    counters: dict[tuple[int | str, ...], int] = {}
    for k, n in items:
        counters[k] = counters.get(k, 0) + n
    members = sorted({(int(k[1]), int(k[SERIES[str(k[0])].user_dim])) for k in counters})
    out = set(data.draw(st.lists(st.sampled_from(members), max_size=len(members))))
    raw = Batch("b", raw=RawCounters(*redis_hashes(group_counters(counters))))
    decoded = Batch("b", counters=counters)
    kept_raw = raw.without_members(lambda g, u: (g, u) in out)
    kept = decoded.without_members(lambda g, u: (g, u) in out)
    assert kept_raw.raw is not None and kept_raw.size == raw.size
    assert {c: r for c, r in kept_raw.grouped().items() if r} == {c: r for c, r in kept.grouped().items() if r}
