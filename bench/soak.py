"""Soak: the real bot process through the offline Discord, a seeded stream of known events, and faults.

``python bench/soak.py [--events N] [--kills K] [--seed S] [--catch-up-messages M] [--postgres]``
runs ``tests/e2e/soak.py`` (the same machinery as the CI-sized soak in the test suite): the
sandbox Discord, a Redis server of its own (append-only file on, restarted once or more), a
SQLite file or, with ``--postgres``, a scratch database on the TimescaleDB of
TEST_DATABASE_URL behind a proxy that is cut, and ``python -m bot run``. It prints per
metric the events offered, counted, lost and doubled; voice seconds lost per crash and
invented; the faults injected; the latency of live events during the catch-up of a large
backlog against the idle latency of the same run; and one JSON line with unit-named keys.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _common import emit

from tests.e2e.soak import SoakOptions, flat, print_report, run_soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events to send (default 20000)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the bot (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--catch-up-messages", type=int, default=10_000, help="backlog of the latency measurement")
    parser.add_argument(
        "--postgres", action="store_true", help="TimescaleDB of TEST_DATABASE_URL behind a cuttable proxy"
    )
    parser.add_argument("--keep", type=Path, help="keep the bots' logs, Redis and SQLite files in this directory")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    opts = SoakOptions(
        events=args.events,
        kills=args.kills,
        seed=args.seed,
        postgres=args.postgres,
        catch_up_messages=args.catch_up_messages,
        workdir=args.keep,
    )
    result, soak, elapsed = asyncio.run(run_soak(opts))
    print_report(result, soak, elapsed)
    emit(flat(result, soak, elapsed))


if __name__ == "__main__":
    main()
