"""``python -m bench``: run the benchmarks, print their tables, optionally write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable

from bench import bridge, console_panels, efficiency, memory, scale, stream, throughput
from bench.report import RunInfo, Table, console, markdown, write

BENCHMARKS: dict[str, Callable[[bool], Table]] = {
    "efficiency": efficiency.run,
    "throughput": throughput.run,
    "memory": memory.run,
    "stream": stream.run,
    "bridge": bridge.run,
    "scale": scale.run,
    "console": console_panels.run,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Benchmarks of the polling triggers (see bench/)."
    )
    parser.add_argument("--quick", action="store_true", help="smaller backlogs, fewer repeats")
    parser.add_argument("--out", metavar="PATH", help="write the report there (BENCHMARKS.md)")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        help="run only this benchmark (repeatable); default: all",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    tables = []
    for name in args.only or list(BENCHMARKS):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        table = BENCHMARKS[name](args.quick)
        table.seconds = time.perf_counter() - began
        tables.append(table)
        print(console(table) + "\n", flush=True)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    run = RunInfo(command=command.strip(), quick=args.quick, seconds=time.perf_counter() - started)
    if args.out:
        write(args.out, markdown(tables, run))
    # A missed target is a result, reported in the tables, not an error.
    return 0


if __name__ == "__main__":
    sys.exit(main())
