"""Command line: `python -m resnet_viz COMMAND ...` (run with --help for the list)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet_viz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from resnet_viz import cli

    for register in cli.COMMANDS:
        register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
