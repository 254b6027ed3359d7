"""``python -m monitoring render|check``: regenerate, or verify, rules and dashboards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitoring import artifacts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitoring", description=__doc__)
    parser.add_argument(
        "--root",
        type=Path,
        default=artifacts.PACKAGE_DIR,
        help="directory holding rules/ and dashboards/ (default: the package)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("render", help="write rules/*.yml and dashboards/ from the SLOs")
    commands.add_parser("check", help="exit 1 when the checked-in files differ from render")
    args = parser.parse_args(argv)

    if args.command == "render":
        changed = artifacts.write(args.root)
        for relative in changed:
            print(f"wrote {relative}")
        print(f"{len(changed)} file(s) changed")
        return 0

    stale = artifacts.differences(args.root)
    if stale:
        for relative in stale:
            print(f"out of date: {relative}", file=sys.stderr)
        print("run: python -m monitoring render", file=sys.stderr)
        return 1
    print("monitoring files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
