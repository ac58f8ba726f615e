"""`runtime run [AGENTS_DIR]`: the daemon. Every valid agent of the directory runs under its own supervisor,
invalid files are reported and skipped, edits are applied live, SIGHUP reloads, SIGUSR1 mutes or unmutes
every microphone, SIGTERM stops cleanly."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runtime.commands import add_service_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "agents_dir", nargs="?", type=Path, metavar="AGENTS_DIR",
        help="directory of agent files (default: $RUNTIME_AGENTS or ./agents)",
    )
    parser.add_argument(
        "--backend", choices=("auto", "gemini", "emulator"), default="auto",
        help="gemini (Google's service), emulator (built in, no key needed) or auto: gemini when a key or "
        "token URL is configured, else the emulator, with a warning (default: auto)",
    )
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR",
        help="resumption handles and the demo reply (default: $STATE_DIRECTORY, /var/lib/runtime as root, "
        "else ~/.local/state/runtime)",
    )
    add_service_arguments(parser)
    parser.add_argument(
        "--demo", action="store_true",
        help="play a bundled spoken request into the first listening agent, write its reply to a WAV file in "
        "the state directory, print the conversation, and exit (with --metrics: keep serving until Ctrl-C)",
    )
    parser.add_argument("--log-format", choices=("auto", "text", "json", "journal"), default="auto",
                        help="text lines, json lines, or journal: entries with AGENT=, EVENT=, CLOSE_CODE=, TOOL= "
                        "fields sent to journald (default auto: journal under systemd, else text)")
    parser.add_argument(
        "--metrics", metavar="ADDRESS", default=os.environ.get("RUNTIME_METRICS") or None,
        help="serve Prometheus /metrics, /healthz and /status on HOST:PORT, e.g. 127.0.0.1:8653 or [::1]:8653 "
        "(env RUNTIME_METRICS; default: off)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging (transcripts, tool arguments)")
    parser.add_argument("--insecure-permissions", action="store_true",
                        help="accept agent files, tool modules and secrets that other users can change")
    parser.add_argument("--emulator-scenario", type=Path, metavar="FILE",
                        help="scenario of the built-in emulator (default: the bundled demo scenario)")
    parser.add_argument("--emulator-faults", type=Path, metavar="FILE",
                        help="faults the built-in emulator injects (for testing recovery)")


def run(args: argparse.Namespace) -> int:
    import logging

    from runtime.daemon.app import main, options_from_env
    from runtime.daemon.backend import BackendOptions
    from runtime.daemon.journal import JournalHandler, choose_log_format, journal_socket
    from runtime.daemon.logs import end_process, own_stderr, setup_logging

    own_stderr()
    journal_path = journal_socket(os.environ)
    log_format = choose_log_format(args.log_format, os.environ, sys.stderr, journal_path)
    handler = JournalHandler(journal_path) if log_format == "journal" else None
    setup_logging(log_format, level=logging.DEBUG if args.verbose else logging.INFO, handler=handler)
    options = options_from_env(
        agents_dir=args.agents_dir,
        state_dir=args.state_dir,
        backend=BackendOptions(
            backend=args.backend,
            base_url=args.base_url,
            ca_file=args.ca_file,
            token_url=args.token_url,
            scenario=args.emulator_scenario,
            faults=args.emulator_faults,
        ),
        secrets_dir=args.secrets_dir,
        demo=args.demo,
        insecure_permissions=args.insecure_permissions,
        metrics=args.metrics,
        print_conversation=args.demo or (sys.stdout.isatty() and "INVOCATION_ID" not in os.environ),
    )
    end_process(main(options))
