"""`python -m bench [--quick] [--json FILE] [--markdown FILE] [--clients ...]`: measure, print, write.

`python -m bench --setup-baselines` makes the Pipecat baseline's own environment and exits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from bench.collect import CLIENTS, collect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short durations (under 2 minutes; for CI)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the figures as one JSON object")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the report (and a PNG next to it)")
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=CLIENTS,
        default=list(CLIENTS),
        help="which clients to measure (default: all; the runtime is always measured)",
    )
    parser.add_argument(
        "--setup-baselines",
        action="store_true",
        help="make the Pipecat baseline's virtual environment (bench/.baselines/pipecat) and exit",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    if args.setup_baselines:
        from bench.baselines import environment

        return environment.main()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s"
    )
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    result, samples = collect(args.quick, tuple(args.clients))
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    if args.markdown:
        from bench.report import markdown

        markdown(result, samples, args.markdown)
    if not args.json and not args.markdown:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
