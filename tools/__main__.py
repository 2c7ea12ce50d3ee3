"""`python -m tools bench|load ...`: the benchmark and the classroom load test (run with --help)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from tools.bench.run import add_bench
    from tools.load.run import add_load

    for register in (add_bench, add_load):
        register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
