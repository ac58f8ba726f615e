"""Which of an MCP server's tools the model gets, under which names and settings: pure, from the agent file's
`mcp` entry and the server's `tools/list`.

A tool becomes a `ResolvedTool` like any other, so that the Live config declares it and the tool runner applies
its timeout, behaviour and scheduling without knowing where it comes from; `McpTool` keeps what calling it
needs (the server and the server's own name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runtime.agentfile.resolved_tools import ResolvedTool
from runtime.agentfile.spec import McpServer, Tool
from runtime.mcp.schema import declarable

__all__ = ["Listed", "McpTool", "select"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Listed:
    """One tool as the server lists it."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class McpTool:
    """One MCP tool the model gets."""

    resolved: ResolvedTool
    """As declared to the model: prefixed name, converted schema, the entry's behaviour/scheduling/timeout."""
    server_name: str
    """The tool's name on its server (what `tools/call` is sent)."""
    input_schema: dict[str, Any]
    """The server's own schema: arguments are validated against it before a call."""
    changes: tuple[str, ...]
    """What the schema conversion changed (logged once, `runtime tools` shows it)."""

    @property
    def name(self) -> str:
        return self.resolved.name


def select(server: McpServer, listed: Sequence[Listed]) -> tuple[list[McpTool], list[str]]:
    """The tools the entry keeps (`include`/`exclude`), and a problem line for each tool left out for a name the
    model would refuse."""
    tools: list[McpTool] = []
    problems: list[str] = []
    for item in listed:
        if server.include is not None and item.name not in server.include:
            continue
        if item.name in server.exclude:
            continue
        name = server.prefix + item.name
        if not _NAME.match(name):
            problems.append(f"tool {item.name!r} left out: {name!r} is not a valid function name")
            continue
        tools.append(_declared(server, item, name))
    return tools, problems


def _declared(server: McpServer, item: Listed, name: str) -> McpTool:
    override = server.overrides.get(item.name)
    behavior = (override.behavior if override else None) or server.behavior
    scheduling = (override.scheduling if override else None) or server.scheduling
    timeout_s = (override.timeout_s if override else None) or server.timeout_s
    converted = declarable(item.input_schema)
    # A declaration only: validation would ask for `python` or `http`, which an MCP tool has neither of.
    tool = Tool.model_construct(
        name=name, description=item.description, parameters=converted.schema, python=None, http=None,
        behavior=behavior, scheduling=scheduling if behavior == "non_blocking" else None, timeout_s=timeout_s,
    )
    return McpTool(ResolvedTool(tool, converted.schema), item.name, item.input_schema, converted.changes)
