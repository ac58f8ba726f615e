"""The session's side of its MCP servers (`runtime.mcp`): built only for an agent that has some, and a changed
tool list declared to the model by handing over to a new connection, resumed, at the next turn boundary (a Live
session's tools are fixed by its setup message)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runtime.agentfile.spec import AgentSpec

if TYPE_CHECKING:
    from runtime.live.connection import Connection
    from runtime.mcp.toolset import McpToolset

__all__ = ["TOOLS_CHANGED_WITHIN_S", "mcp_toolset", "redeclare_on_change"]

TOOLS_CHANGED_WITHIN_S = 600.0
"""Longest a changed tool list waits for a turn boundary before the handover goes anyway (seconds)."""


def mcp_toolset(spec: AgentSpec, base_dir: Path, name: str, taken: list[str]) -> McpToolset | None:
    """The agent's MCP servers, if it has any (the `mcp` SDK is imported only then)."""
    if not spec.mcp_servers():
        return None
    from runtime.mcp.toolset import McpToolset

    return McpToolset(spec, base_dir=base_dir, agent=name, taken=taken)


async def redeclare_on_change(toolset: McpToolset, connection: Connection) -> None:
    """Until cancelled: each time a server's tool list changes, hand over so the next setup declares it."""
    while True:
        await toolset.wait_changed()
        connection.request_handover("MCP tool list changed", within_s=TOOLS_CHANGED_WITHIN_S)
