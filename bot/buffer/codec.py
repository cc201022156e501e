"""How counter and record keys are written as Redis hash fields, and read back."""

from __future__ import annotations

import orjson

from bot.series import RECORD_KINDS, SERIES, CounterKey, RecordKey, RecordValue

# Counters grouped into rows: series code -> (guild_id, hour, *dims) -> values in field order.
Rows = dict[str, dict[tuple[int | str, ...], list[int]]]

SEP = "\x1f"  # ASCII unit separator: cannot occur in ids; replaced if it occurs in text


def clean_text(p: str) -> str:
    """Text as every store keeps it: the separator replaced (both backends store the same)."""
    return p.replace(SEP, "\ufffd") if SEP in p else p


def _part(p: int | str) -> str:
    return str(p) if isinstance(p, int) else clean_text(p)


def encode_key(key: CounterKey | RecordKey) -> tuple[int, str]:
    """(guild_id, hash field) for a key: the guild picks the Redis key, the rest the field."""
    code = key[0]
    guild = key[1]
    if not isinstance(guild, int) or not isinstance(code, str):
        raise TypeError(f"malformed key {key!r}")
    return guild, SEP.join([code, *(_part(p) for p in key[2:])])


def encode_row(code: str, row_key: tuple[int | str, ...]) -> tuple[int, str]:
    """(guild_id, hash field) of a counter row; the field's value holds all its counts."""
    guild = row_key[0]
    if not isinstance(guild, int):
        raise TypeError(f"malformed row key {row_key!r}")
    return guild, SEP.join([code, *(_part(p) for p in row_key[1:])])


# Series whose dimensions are all ids: their fields are decoded without text handling (the bulk of a batch).
_INT_SERIES: dict[bytes, str] = {code.encode(): code for code, s in SERIES.items() if str not in s.dim_types}
_SEP_BYTES = SEP.encode()


def decode_rows(guild_ids: list[int], hashes: list[dict[bytes, bytes]]) -> Rows:
    """Counter rows from the per-guild hashes of a batch: one field per row, values comma-separated."""
    rows: Rows = {code: {} for code in SERIES}
    for guild, hash_ in zip(guild_ids, hashes, strict=True):
        for field, value in hash_.items():
            code, _, rest = field.partition(_SEP_BYTES)
            values = list(map(int, value.split(b",")))
            int_code = _INT_SERIES.get(code)
            if int_code is not None:  # int() reads ASCII digits from bytes as they are
                rows[int_code][(guild, *map(int, rest.split(_SEP_BYTES)))] = values
                continue
            parts = rest.decode().split(SEP)
            series = SERIES[code.decode()]
            dims = tuple(t(v) for t, v in zip(series.dim_types, parts[1:], strict=True))
            rows[series.code][(guild, int(parts[0]), *dims)] = values
    return rows


def decode_record(guild_id: int, field: str) -> RecordKey:
    """The record key behind a hash field."""
    parts = field.split(SEP)
    kind = RECORD_KINDS[parts[0]]
    ident = tuple(t(v) for t, v in zip(kind.identity_types, parts[1:], strict=True))
    return (kind.code, guild_id, *ident)


def encode_value(value: RecordValue) -> bytes:
    return orjson.dumps(value)


def decode_value(raw: bytes | str) -> RecordValue:
    return tuple(orjson.loads(raw))
