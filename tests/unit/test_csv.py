"""CSV cells, the spooled export file, and the /config event option parsers (property-based)."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.periods import AnalyticsError
from bot.posts.eventconfig import (
    ALL_DAYS,
    DAY_ABBR,
    ChannelSpec,
    days_text,
    parse_channels,
    parse_days,
    parse_minutes,
    parse_start,
)
from bot.render.csvfile import COLUMNS, CsvSpool, ExportTooLarge, cell, csv_text, iso_utc


def test_columns_are_specs() -> None:
    assert {k: ",".join(v) for k, v in COLUMNS.items()} == {
        "messages": "hour_utc,channel_id,user_id,messages,characters,attachments,replies",
        "voice": "hour_utc,channel_id,user_id,active_s,muted_s,deafened_s,alone_s,streaming_s,video_s",
        "emojis": "hour_utc,channel_id,user_id,emoji,kind,count",
        "apps": "hour_utc,channel_id,user_id,application_id,command,count",
        "invites": "joined_at_utc,user_id,invite_code,inviter_id,left_at_utc",
        "coverage": "from_utc,to_utc,kind,messages_recovered",
    }


def test_cells() -> None:
    assert cell(datetime(2026, 11, 22, 16, tzinfo=UTC)) == "2026-11-22T16:00:00+00:00"
    assert cell(datetime(2026, 11, 22, 17, 0, 0, 999, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-11-22T16:00:00+00:00"
    )
    assert cell(datetime(2026, 11, 22, 16, 5, 7)) == "2026-11-22T16:05:07+00:00"  # naive means UTC
    assert cell(None) == ""
    assert cell(1234567890123456789) == "1234567890123456789"
    assert csv_text([("a,b", 'say "hi"', None, 3)]) == '"a,b","say ""hi""",,3\r\n'


@given(st.datetimes(timezones=st.just(UTC)))
def test_iso_round_trips_to_the_second(moment: datetime) -> None:
    text = iso_utc(moment)
    assert text.endswith("+00:00") and len(text) == 25
    assert datetime.fromisoformat(text) == moment.replace(microsecond=0)


@given(st.lists(st.tuples(st.integers(0, 2**63 - 1), st.text(), st.none() | st.integers()), max_size=20))
def test_csv_round_trips(rows: list[tuple[int, str, int | None]]) -> None:
    parsed = list(csv.reader(io.StringIO(csv_text(rows), newline="")))
    assert parsed == [[str(a), b, "" if c is None else str(c)] for a, b, c in rows]


def test_spool_plain_then_gzip_then_too_large() -> None:
    rows = [(datetime(2026, 1, 1, h, tzinfo=UTC), 1, 2, 3, 4, 5, 6) for h in range(24)]
    spool = CsvSpool("messages")
    for i in range(0, 24, 5):
        spool.add(rows[i : i + 5])
    plain = spool.finish("m", 10**6)
    data = plain.file.read()
    assert (plain.filename, plain.rows, plain.size, plain.gzipped) == ("m.csv", 24, len(data), False)
    assert data.decode().count("\n") == 25
    plain.file.close()
    spool = CsvSpool("messages")
    spool.add(rows)
    packed = spool.finish("m", len(data) - 1)
    assert packed.filename == "m.csv.gz" and packed.gzipped and gzip.decompress(packed.file.read()) == data
    packed.file.close()
    spool = CsvSpool("messages")
    spool.add(rows)
    with pytest.raises(ExportTooLarge):
        spool.finish("m", 10)


def test_days_words() -> None:
    assert parse_days("every day") == parse_days("Every  Day") == parse_days("daily") == ALL_DAYS
    assert parse_days("weekdays") == parse_days("mon-fri") == parse_days("Monday - Friday") == 0b11111
    assert parse_days("weekends") == parse_days("sat,sun") == 0b1100000
    assert parse_days("mon,wed,fri") == parse_days("mon wed, fri") == 0b10101
    assert parse_days("fri-mon") == 0b1110001
    assert days_text(0b10101) == "Mon, Wed, Fri"
    assert days_text(ALL_DAYS) == "every day" and days_text(0b11111) == "weekdays"
    for bad in ("", " ", ",", "someday", "mon-", "mon-xyz", "monday!", "7"):
        with pytest.raises(AnalyticsError):
            parse_days(bad)


day_token = st.sampled_from([d.lower() for d in DAY_ABBR] + ["monday", "Tues", "THURSDAY", "weekdays", "weekends"])


@given(st.lists(day_token, min_size=1, max_size=7), st.sampled_from([",", " ", ", "]))
def test_days_lists_are_unions(tokens: list[str], sep: str) -> None:
    mask = parse_days(sep.join(tokens))
    assert mask == _union(parse_days(tok) for tok in tokens)
    assert 0 < mask <= ALL_DAYS
    assert parse_days(days_text(mask).replace("every day", "daily")) == mask


def _union(masks: object) -> int:
    out = 0
    for m in masks:  # type: ignore[attr-defined]
        out |= m
    return out


@given(st.text(max_size=30))
def test_days_never_crash(text: str) -> None:
    try:
        mask = parse_days(text)
    except AnalyticsError as exc:
        assert 0 < len(str(exc)) <= 200
    else:
        assert 0 < mask <= ALL_DAYS


@given(st.integers(0, 23), st.integers(0, 59))
def test_start_normalises(h: int, m: int) -> None:
    assert parse_start(f"{h}:{m:02d}") == f"{h:02d}:{m:02d}"


@given(st.text(max_size=12))
def test_start_accepts_only_hh_mm(text: str) -> None:
    try:
        value = parse_start(text)
    except AnalyticsError as exc:
        assert 0 < len(str(exc)) <= 200
    else:
        h, m = value.split(":")
        assert len(value) == 5 and 0 <= int(h) <= 23 and 0 <= int(m) <= 59


@given(st.integers(-(10**6), 10**6))
def test_minutes_range(n: int) -> None:
    if 1 <= n <= 1440:
        assert parse_minutes(n) == n
    else:
        with pytest.raises(AnalyticsError):
            parse_minutes(n)


def test_channels() -> None:
    a, b = 123456789012345678, 223456789012345678
    assert parse_channels(None) == parse_channels("  ") == ChannelSpec(pattern="*")
    assert parse_channels(f"<#{a}> <#{b}>, <#{a}>") == ChannelSpec(ids=(a, b))
    assert parse_channels(f"{a}") == ChannelSpec(ids=(a,))
    assert parse_channels("Study*").as_json() == {"pattern": "Study*"}
    assert ChannelSpec(ids=(a,)).as_json() == {"ids": [a]}
    for bad in (f"<#{a}> Study*", "<@123>", "x" * 101):
        with pytest.raises(AnalyticsError):
            parse_channels(bad)


@given(st.text(max_size=40))
def test_channels_never_crash(text: str) -> None:
    try:
        spec = parse_channels(text)
    except AnalyticsError as exc:
        assert 0 < len(str(exc)) <= 200
    else:
        assert bool(spec.ids) != (spec.pattern is not None)
