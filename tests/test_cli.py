"""The `runtime` command line: fast start-up, every subcommand registered."""

from __future__ import annotations

import subprocess
import sys

from runtime.cli import COMMANDS, build_parser


def test_every_subcommand_is_registered() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for name in COMMANDS:
        assert name in help_text


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from runtime.cli import build_parser; build_parser(); "
        "heavy = [m for m in ('google.genai', 'numpy', 'sounddevice', 'pydantic', 'websockets') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
