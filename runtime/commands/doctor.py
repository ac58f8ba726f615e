"""`runtime doctor [AGENTS_DIR]`: is this device ready? One ✓/✗ line per check with a hint; exit 0 only when
nothing failed, 1 otherwise, 2 on misuse. `--live` opens one short session per model; `--trace FILE` writes
what was said on them, sanitized, for the conformance suite (docs/doctor.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.commands import add_service_arguments

if TYPE_CHECKING:
    from runtime.agentfile.loader import LoadedAgent
    from runtime.doctor.report import Check
    from runtime.doctor.trace import TraceWriter
    from runtime.live.endpoint import Endpoint

EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agents_dir", nargs="?", type=Path, metavar="AGENTS_DIR",
                        help="directory of agent files (default: $RUNTIME_AGENTS or ./agents)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument("--live", action="store_true",
                        help="open one short session per model (setup, a typed turn, a tool call, a handle)")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="with --live: write every message of those sessions as sanitized JSON lines")
    add_service_arguments(parser)
    parser.add_argument("--unit", default="runtime.service", help="the systemd unit to check (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from runtime.doctor.report import exit_code, render_json, render_text
    from runtime.guards.redact import SECRETS, install_logging_filter

    if args.trace is not None and not args.live:
        print("runtime doctor: --trace needs --live (the trace is of the live sessions)", file=sys.stderr)
        return EXIT_USAGE
    install_logging_filter()
    checks = gather(args)
    # Details quote error messages from libraries; none may carry a key or token the process has read.
    print(SECRETS.redact(render_json(checks) if args.json else render_text(checks)), end="")
    return exit_code(checks)


def gather(args: argparse.Namespace) -> list[Check]:
    """Every check, in the order of the report."""
    import anyio

    from runtime.doctor import agents, audio, service
    from runtime.live.endpoint import Endpoint

    agents_dir = args.agents_dir or Path(os.environ.get("RUNTIME_AGENTS") or "agents")
    checks, loaded = agents.check_files(agents_dir, args.secrets_dir)
    checks += agents.check_python_tools(loaded) + agents.no_tools(loaded)
    checks += anyio.run(agents.check_http_tools, loaded)
    checks += audio.check_devices(loaded)
    endpoint = Endpoint.from_env(base_url=args.base_url, ca_file=args.ca_file, token_url=args.token_url)
    checks += anyio.run(_connected_checks, endpoint, loaded, args.live, args.trace)
    return checks + service.check_service(args.unit)


async def _connected_checks(
    endpoint: Endpoint, loaded: list[LoadedAgent], live: bool, trace: Path | None
) -> list[Check]:
    from runtime.doctor import clock, credentials, network
    from runtime.doctor.report import skipped

    checks = [credentials.check_configured(endpoint), await credentials.check_token_url(endpoint),
              clock.judge_clock(clock.read_clock())]
    where = network.target(endpoint)
    resolved, addresses = await network.check_resolves(where)
    checks.append(resolved)
    reachable = await network.check_tls(endpoint, where) if addresses else None
    if reachable is not None:
        checks.append(reachable)
    if not live:
        return [*checks, skipped("live", "sessions", "not opened (add --live to open one per model)")]
    blocked = [check for check in checks if check.status == "fail"]
    if blocked or not loaded:
        why = "no valid agent" if not loaded else f"fix first: {blocked[0].name}"
        return [*checks, skipped("live", "sessions", f"not opened ({why})")]
    return checks + await _live(endpoint, loaded, trace)


async def _live(endpoint: Endpoint, loaded: list[LoadedAgent], trace: Path | None) -> list[Check]:
    from runtime.doctor.live import check_live, probe_agents

    writer = _trace_writer(trace, endpoint, [agent.spec.model for agent in probe_agents(loaded)])
    try:
        return await check_live(endpoint, loaded, writer)
    finally:
        if writer is not None:
            writer.finish()


def _trace_writer(trace: Path | None, endpoint: Endpoint, models: list[str]) -> TraceWriter | None:
    if trace is None:
        return None
    from google.genai import __version__ as sdk_version

    from runtime import __version__
    from runtime.doctor.trace import TraceWriter

    header = {"source": "runtime doctor --live", "runtime": __version__, "sdk": f"google-genai {sdk_version}",
              "endpoint": "custom" if endpoint.base_url else "gemini", "models": models}
    return TraceWriter(trace, header)
