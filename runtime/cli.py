"""The `runtime` command: argument parsing and exit codes only; each subcommand lives in runtime/commands/.

Command modules import only the standard library at top level, so `runtime --help` stays fast; heavy
imports (google-genai, numpy, sounddevice) happen inside each command's `run`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from runtime import __version__

#: subcommand name -> (module under runtime.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check agent files and report errors as path:line:column"),
    "schema": ("schema", "print the JSON Schema of the agent file"),
    "run": ("run", "run every agent of a directory (the daemon)"),
    "chat": ("chat", "talk to one agent in the terminal"),
    "emulate": ("emulate", "serve a local Live API emulator"),
    "devices": ("devices", "list audio devices"),
    "doctor": ("doctor", "check that this device is ready: agent files, audio, credentials, network, service"),
    "models": ("models", "list the Live models runtime knows (and, with a key, what the service offers)"),
    "token-server": ("token_server", "serve short-lived Live API tokens to devices"),
    "status": ("status", "ask the running daemon how each agent is doing (over its --metrics address)"),
    "tools": ("tools", "start an agent's MCP servers, list every tool the model will get, stop them"),
}

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runtime",
        description="Run folders of YAML files as always-on Gemini Live voice agents.",
    )
    parser.add_argument("--version", action="version", version=f"runtime {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f"runtime.commands.{module_name}")
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._module.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
