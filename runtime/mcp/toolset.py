"""The MCP servers of one agent, as one set of tools: started together with the agent's session, stopped with
it (a task group owns them), looked up by the name the model calls."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from runtime.agentfile.resolved_tools import ResolvedTool
from runtime.agentfile.spec import AgentSpec
from runtime.mcp.catalog import McpTool
from runtime.mcp.server import SupervisedServer

__all__ = ["McpToolset"]

logger = logging.getLogger(__name__)


class McpToolset:
    """Every MCP server of an agent; `run` supervises them all until cancelled."""

    def __init__(self, spec: AgentSpec, *, base_dir: Path, agent: str, taken: Sequence[str] = ()) -> None:
        self.agent = agent
        self.servers = [SupervisedServer(server, base_dir=base_dir, agent=agent) for _, server in spec.mcp_servers()]
        self._taken = frozenset(taken)
        """Names of the agent's own functions: an MCP tool of the same name is left out (the function wins)."""
        self._clashes: set[tuple[str, str]] = set()
        """(tool, server) clashes already logged: `tools()` runs at every call."""

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start every server (in parallel), `started` once each has tried once, supervise them until cancelled."""
        async with anyio.create_task_group() as group:
            async with anyio.create_task_group() as starting:  # a slow server does not hold up the others
                for server in self.servers:
                    starting.start_soon(group.start, server.run)
            task_status.started()

    def tools(self) -> list[McpTool]:
        """What the model gets now, first server first; a name already taken is left out with a warning."""
        chosen: dict[str, McpTool] = {}
        for server in self.servers:
            for tool in server.tools:
                if tool.name in self._taken or tool.name in chosen:
                    if (tool.name, server.name) not in self._clashes:
                        self._clashes.add((tool.name, server.name))
                        logger.warning("agent %s: MCP tool %s of %s left out: the name is taken (use `prefix`)",
                                       self.agent, tool.name, server.name)
                    continue
                chosen[tool.name] = tool
        return list(chosen.values())

    def declarations(self) -> list[ResolvedTool]:
        return [tool.resolved for tool in self.tools()]

    def owner(self, name: str) -> tuple[SupervisedServer, McpTool] | None:
        for server in self.servers:
            for tool in server.tools:
                if tool.name == name:
                    return server, tool
        return None

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """The server's own schema of a tool: a call's arguments are checked against it before it is sent."""
        found = self.owner(name)
        return found[1].input_schema if found is not None else None

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        found = self.owner(name)
        if found is None:
            return {"error": f"unknown tool {name!r}"}
        server, tool = found
        return await server.call(tool, args)

    async def wait_changed(self) -> None:
        """Return when a server's tool list changed (then the caller declares `tools()` anew)."""
        async with anyio.create_task_group() as group:

            async def one(server: SupervisedServer) -> None:
                await server.changed.wait()
                server.changed = anyio.Event()
                group.cancel_scope.cancel()

            for server in self.servers:
                group.start_soon(one, server)
