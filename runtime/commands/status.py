"""`runtime status`: what the running daemon says about each agent, asked over its metrics address.

The daemon answers `/status` (JSON) on the address it serves `/metrics` on (`--metrics`, `RUNTIME_METRICS`;
the shipped unit sets 127.0.0.1:8653). The same address rather than a unix socket: one listener to think
about instead of two, the same answer `curl` gets, and no socket path or file permissions to agree on between
the service user and whoever runs `runtime status`. Exit 0 with an answer, 3 when no daemon answers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

EXIT_OK, EXIT_USAGE, EXIT_NO_DAEMON = 0, 2, 3
DEFAULT_ADDRESS = "127.0.0.1:8653"
ASK_TIMEOUT_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", metavar="HOST:PORT", default=os.environ.get("RUNTIME_METRICS") or DEFAULT_ADDRESS,
                        help=f"the daemon's --metrics address (default: $RUNTIME_METRICS, else {DEFAULT_ADDRESS})")
    parser.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")


def run(args: argparse.Namespace) -> int:
    import urllib.request  # ~20 ms: not at import, which every `runtime` command pays (cli builds all parsers)

    from runtime.daemon.metrics_server import MetricsAddressError, parse_address

    try:
        url = parse_address(args.address).url("/status")
    except MetricsAddressError as exc:
        print(f"runtime status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with urllib.request.urlopen(url, timeout=ASK_TIMEOUT_S) as answer:
            status: dict[str, Any] = json.load(answer)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"runtime status: no daemon answers on {args.address} ({reason}); is `runtime run --metrics "
              f"{args.address}` running (systemctl status runtime)?", file=sys.stderr)
        return EXIT_NO_DAEMON
    print(json.dumps(status, indent=2, sort_keys=True) if args.json else render(status))
    return EXIT_OK


def render(status: dict[str, Any]) -> str:
    """One line per agent, for people."""
    now = float(status.get("now", time.time()))
    header = f"{'AGENT':<12} {'STATE':<19} {'SINCE':<9} {'CONNECTED':<10} {'RECONNECTS 1H':<28} {'TOKENS TODAY':>12}"
    lines = [header]
    for agent in status.get("agents", []):
        lines.append(
            f"{agent['agent']:<12} {agent['state']:<19} {ago(now - float(agent['since'])):<9} "
            f"{_age(agent.get('connection_age_s')):<10} {_reconnects(agent):<28} {agent.get('tokens_today', 0):>12}"
        )
        if agent.get("last_error"):
            lines.append(f"{'':<12} last error: {agent['last_error']}")
    if not status.get("agents"):
        lines.append("(no agents)")
    if status.get("muted"):
        lines.append("microphones muted")
    return "\n".join(lines)


def ago(seconds: float) -> str:
    """`42s`, `7m`, `3h12m`, `2d4h`: how long ago, at a glance."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else ago(seconds)


def _reconnects(agent: dict[str, Any]) -> str:
    count = int(agent.get("reconnects_last_hour", 0))
    if not count:
        return "0"
    reason = str(agent.get("last_close_reason") or "")
    text = f"{count} (last {agent.get('last_close_code')}: {reason})"
    return text if len(text) <= 40 else text[:39] + "…"
