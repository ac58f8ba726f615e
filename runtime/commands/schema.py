"""`runtime schema`: print the agent file's JSON Schema (draft 2020-12), for editors and other tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the schema to FILE instead of stdout")


def schema_text() -> str:
    """The schema as committed in schemas/agent.schema.json: two-space indents, a final newline."""
    import json

    from runtime.agentfile.spec import json_schema

    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"runtime schema: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 1
    return 0
