"""How counter and record keys are written as Redis hash fields, and read back."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from db.series import RECORD_KINDS, SERIES, CounterKey, RecordKey, RecordValue, Rows

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


# Series whose rows go from Redis bytes straight into COPY text: ids only, the member last.
_WIRE_SERIES: dict[bytes, str] = {
    code.encode(): code for code, s in SERIES.items() if str not in s.dim_types and s.dims[-1] == "user_id"
}
WIRE_SERIES = frozenset(_WIRE_SERIES.values())
_DIGIT_0 = ord("0")


class RawCounters:
    """A batch's counters as Redis gave them (one hash per guild), decoded only as far as needed.

    A field is ``code SEP hour SEP dims…`` and its value the row's counts,
    comma-separated. For the series in ``WIRE_SERIES`` that is one tab away from
    a line of PostgreSQL's COPY text format (guild, hour epoch, dims, counts),
    which ``copy_lines`` builds without turning a single number into an int.
    """

    __slots__ = ("guild_ids", "hashes")

    def __init__(self, guild_ids: list[int], hashes: list[dict[bytes, bytes]]) -> None:
        self.guild_ids = guild_ids
        self.hashes = hashes

    def __len__(self) -> int:
        return sum(len(h) for h in self.hashes)

    def decode(self) -> Rows:
        return decode_rows(self.guild_ids, self.hashes)

    def copy_lines(self, parts: int) -> tuple[list[dict[str, list[bytes]]], Rows]:
        """COPY text lines of the ``WIRE_SERIES`` rows per part, and the other rows decoded.

        A row's part is the last decimal digit of its member id modulo ``parts``
        (``db.series.part_of``), as for decoded rows.
        """
        out: list[dict[str, list[bytes]]] = [{code: [] for code in WIRE_SERIES} for _ in range(parts)]
        rest: dict[int, dict[bytes, bytes]] = {}
        sep, tab, comma = _SEP_BYTES, b"\t", b","
        for guild, hash_ in zip(self.guild_ids, self.hashes, strict=True):
            head = b"%d\t" % guild
            for field, value in hash_.items():
                code, _, tail = field.partition(sep)
                wire = _WIRE_SERIES.get(code)
                if wire is None:
                    rest.setdefault(guild, {})[field] = value
                    continue
                line = head + tail.replace(sep, tab) + tab + value.replace(comma, tab)
                out[(tail[-1] - _DIGIT_0) % parts][wire].append(line)
        return out, decode_rows(list(rest), list(rest.values()))

    def without(self, excluded: Callable[[int, int], bool]) -> RawCounters:
        """The counters minus every row of a (guild, member) that ``excluded`` names."""
        hashes = []
        for guild, hash_ in zip(self.guild_ids, self.hashes, strict=True):
            kept = {}
            for field, value in hash_.items():
                parts = field.split(_SEP_BYTES)
                if not excluded(guild, int(parts[SERIES[parts[0].decode()].user_dim - 1])):
                    kept[field] = value
            hashes.append(kept)
        return RawCounters(self.guild_ids, hashes)


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
