"""Checks of MCP servers and of Gemini's built-in tools that a JSON Schema cannot express.

An MCP server's tools are only known once it runs, so what is checked here is what the file says: the
transport, a remote server's URL against the SSRF guard every call goes through (`runtime.guards.netguard`),
the settings of single tools, and whether the model takes the built-in tools at all (the catalogue's
`tools.built_in`: the Live API refuses the setup of a model without them, e.g. `code_execution` on the
native-audio and 3.x Live models, https://ai.google.dev/gemini-api/docs/live-tools).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from runtime.agentfile.catalogue import ModelInfo
from runtime.agentfile.http_checks import KeyPath, check_url
from runtime.agentfile.spec import BUILTIN_TOOLS, AgentSpec, McpServer

__all__ = ["check_builtin_tools", "check_mcp_servers"]


class Reporter(Protocol):
    """Where findings go, located by key path (`runtime.agentfile.checks` is one)."""

    def error(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None: ...

    def warn(self, loc: KeyPath, message: str, hint: str = "", *, key: bool = False) -> None: ...


def check_builtin_tools(report: Reporter, spec: AgentSpec, model: ModelInfo | None) -> None:
    """Each built-in tool once, and only on a model that has it."""
    seen: set[str] = set()
    for index, entry in enumerate(spec.tools):
        kind = next((name for name in BUILTIN_TOOLS if hasattr(entry, name)), None)
        if kind is None:
            continue
        if kind in seen:
            report.error(("tools", index), f"`{kind}` is listed twice", "keep one of them")
        seen.add(kind)
        if model is not None and kind not in model.tools.built_in:
            offered = ", ".join(f"`{name}`" for name in model.tools.built_in) or "none"
            report.error(
                ("tools", index, kind),
                f"`{model.id}` does not offer `{kind}` (the Live API refuses the session)",
                f"remove it, or choose a model that has it; built-in tools of this model: {offered}",
                key=True,
            )


def check_mcp_servers(report: Reporter, spec: AgentSpec, model: ModelInfo | None, base_dir: Path) -> None:
    """Every MCP entry: its program, its URL, its per-tool settings, and behaviours the model cannot honour."""
    for index, server in spec.mcp_servers():
        loc: KeyPath = ("tools", index, "mcp")
        if server.command is not None and not _findable(server.command[0], base_dir):
            report.warn((*loc, "command", 0), f"program `{server.command[0]}` not found on PATH",
                        "install it, or give its full path; the server cannot start until it is found")
        if server.url is not None:
            check_url(report, (*loc, "url"), server.url, server.allow_private_networks)
        _check_scheduling(report, loc, server.behavior, server.scheduling)
        for name, override in server.overrides.items():
            where = (*loc, "overrides", name)
            behavior = override.behavior or server.behavior
            _check_scheduling(report, where, behavior, override.scheduling)
            if name in server.exclude or (server.include is not None and name not in server.include):
                report.warn(where, f"`{name}` is left out by `include`/`exclude`: its override never applies",
                            "remove the override, or keep the tool", key=True)
        if model is not None:
            _check_behaviors(report, loc, server, model)


def _findable(program: str, base_dir: Path) -> bool:
    """A program as the server is started: a path (relative to the agent directory), or a name on PATH."""
    if "/" in program:
        return (base_dir / program).is_file()
    return shutil.which(program) is not None


def _check_scheduling(report: Reporter, loc: KeyPath, behavior: str, scheduling: str | None) -> None:
    if scheduling is not None and behavior != "non_blocking":
        report.error(
            (*loc, "scheduling"),
            "`scheduling` only applies to tools with `behavior: non_blocking`",
            "add `behavior: non_blocking`, or remove `scheduling`",
            key=True,
        )


def _check_behaviors(report: Reporter, loc: KeyPath, server: McpServer, model: ModelInfo) -> None:
    behaviors = model.tools.behaviors
    wanted = [((*loc, "behavior"), server.behavior)]
    for name, override in server.overrides.items():
        if override.behavior is not None:
            wanted.append(((*loc, "overrides", name, "behavior"), override.behavior))
    for where, behavior in wanted:
        if behavior == "non_blocking" and behavior not in behaviors:
            report.error(
                where,
                f"`{model.id}` calls functions synchronously only",
                "remove `behavior: non_blocking` (and `scheduling`), or choose a model with asynchronous calls",
            )
        elif behavior not in behaviors:
            report.warn(
                where,
                f"`{model.id}` calls functions asynchronously only: these MCP tools cannot hold the reply until "
                "they return",
                "set `behavior: non_blocking`",
            )
