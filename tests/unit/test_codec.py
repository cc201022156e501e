"""Redis field encoding: every key survives the round trip; text cannot break the format."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.buffer.codec import SEP, decode_record, decode_rows, decode_value, encode_key, encode_row, encode_value
from bot.buffer.store import group_counters
from bot.series import RECORD_KINDS, SERIES

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
    hashes: dict[int, dict[bytes, bytes]] = {}
    for code, series_rows in rows.items():
        for row_key, vals in series_rows.items():
            guild, field = encode_row(code, row_key)
            hashes.setdefault(guild, {})[field.encode()] = ",".join(map(str, vals)).encode()
    guilds = sorted(hashes)
    decoded = decode_rows(guilds, [hashes[g] for g in guilds])
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
