"""Agent files: they validate, every Python tool imports, every HTTP tool's host resolves (nothing is sent)."""

from __future__ import annotations

import re
from pathlib import Path

import anyio

from runtime.agentfile.loader import LoadedAgent, agent_files, load_directory
from runtime.doctor.report import Check, failed, passed, skipped

FAMILY = "agents"
RESOLVE_TIMEOUT_S = 5.0


def check_files(agents_dir: Path, secrets_dir: Path | None) -> tuple[list[Check], list[LoadedAgent]]:
    """One line per agent file (valid, or its first error located), and the agents that loaded."""
    if not agents_dir.is_dir():
        hint = "pass the agents directory: runtime doctor AGENTS_DIR (default: $RUNTIME_AGENTS or ./agents)"
        return [failed(FAMILY, str(agents_dir), "not a directory", hint)], []
    files = agent_files(agents_dir)
    if not files:
        return [failed(FAMILY, str(agents_dir), "no agent files (*.yaml)", "write one: see docs/agent-file.md")], []
    agents, errors = load_directory(agents_dir, secrets_dir=secrets_dir)
    checks: list[Check] = []
    for agent in agents:
        tools = f", {len(agent.spec.tools)} tools" if agent.spec.tools else ""
        warnings = f", {len(agent.warnings)} warnings (runtime validate)" if agent.warnings else ""
        detail = f"valid: agent {agent.name}, {agent.spec.model}{tools}{warnings}"
        checks.append(passed(FAMILY, agent.path.name, detail))
    for error in errors:
        hint = error.hint or f"runtime validate {error.location.path}"
        checks.append(failed(FAMILY, Path(error.location.path).name, f"{error.location}: {error.message}", hint))
    return checks, agents


def check_python_tools(agents: list[LoadedAgent]) -> list[Check]:
    """Import every Python tool again, by itself: an import that only worked by luck fails here too."""
    from runtime.agentfile.entrypoints import EntryPointError, resolve_entry_point

    checks: list[Check] = []
    for agent in agents:
        for _, tool in agent.spec.functions():
            if tool.python is None:
                continue
            name = f"{agent.name} tool {tool.name}"
            try:
                resolve_entry_point(tool.python, agent.path.resolve().parent)
            except EntryPointError as error:
                checks.append(failed(FAMILY, name, error.message, error.hint or "fix the module beside the agent file"))
                continue
            checks.append(passed(FAMILY, name, f"{tool.python} imports"))
    return checks


def http_hosts(agents: list[LoadedAgent]) -> list[tuple[str, str, int, bool]]:
    """(what, host, port, allow_private_networks) of every HTTP tool, placeholders filled with a dummy value."""
    from urllib.parse import urlsplit

    hosts: list[tuple[str, str, int, bool]] = []
    for agent in agents:
        for _, tool in agent.spec.functions():
            if tool.http is None:
                continue
            parts = urlsplit(re.sub(r"\{[^{}]*\}", "x", tool.http.url))
            port = parts.port or (443 if parts.scheme == "https" else 80)
            hosts.append((f"{agent.name} tool {tool.name}", parts.hostname or "", port,
                          tool.http.allow_private_networks))
    return hosts


async def check_http_tools(agents: list[LoadedAgent]) -> list[Check]:
    """Resolve each HTTP tool's host through the same guard the tool runner uses; no request is sent."""
    from runtime.guards.netcheck import ToolSecurityError, resolve_host

    checks: list[Check] = []
    for what, host, port, allow_private in http_hosts(agents):
        try:
            with anyio.fail_after(RESOLVE_TIMEOUT_S):
                addresses = await resolve_host(host, port, allow_private_networks=allow_private)
        except ToolSecurityError as error:
            checks.append(failed(FAMILY, what, str(error), "point the tool at an allowed host"))
        except (OSError, TimeoutError) as error:
            hint = "check the name, /etc/resolv.conf and the network; the tool will fail until it resolves"
            checks.append(failed(FAMILY, what, f"{host} does not resolve ({error or 'timed out'})", hint))
        else:
            shown = ", ".join(str(address) for address in addresses[:3])
            checks.append(passed(FAMILY, what, f"{host} resolves to {shown} (no request sent)"))
    return checks


def no_tools(agents: list[LoadedAgent]) -> list[Check]:
    if any(agent.spec.tools for agent in agents):
        return []
    return [skipped(FAMILY, "tools", "no agent declares a tool")]
