"""One module per `runtime` subcommand: `add_arguments(parser)` and `run(args) -> exit code`.

Modules here import only the standard library at top level (start-up time of `runtime --help`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the Live service is and how to reach it, as `run` and `doctor` take them."""
    parser.add_argument("--base-url", metavar="URL", help="a Live-compatible endpoint instead of Google's "
                        "(env RUNTIME_BASE_URL)")
    parser.add_argument("--ca-file", type=Path, metavar="FILE", help="certificates to trust for --base-url "
                        "(env RUNTIME_CA_FILE)")
    parser.add_argument("--token-url", metavar="URL", help="fetch a short-lived token per connection from this "
                        "token service instead of holding an API key (env RUNTIME_TOKEN_URL)")
    parser.add_argument("--secrets-dir", type=Path, metavar="DIR",
                        help="where ${secret:NAME} files live (default: $RUNTIME_SECRETS_DIR or /etc/runtime/secrets)")
