"""One MCP server of a running agent: connected, its tools listed, restarted when it crashes or drops.

The Live session stays up meanwhile: a call to a server that is down gets an error result at once. Restarts
follow the project's one retry policy (`runtime.retry.Reconnects`: at once the first time, then a doubling
backoff); a server that never comes up is retried at the slowest pace forever, quietly, without failing its agent.
A crash is seen by the transport (the SDK reports it to `notify`), by a failed call, or by a ping that goes
unanswered.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx2
from mcp import types
from mcp.client.session import ClientSession, IncomingMessage
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from runtime.agentfile.spec import McpServer
from runtime.guards.netguard import ToolSecurityError
from runtime.mcp.catalog import Listed, McpTool, select
from runtime.mcp.connection import CONNECT_TIMEOUT_S, connect, describe
from runtime.mcp.results import as_response
from runtime.retry import Next, Reconnects, Recovery, RetryPolicy

__all__ = ["PING_EVERY_S", "REMOTE_PING_EVERY_S", "SupervisedServer"]

logger = logging.getLogger(__name__)

PING_EVERY_S = 5.0
"""How often a quiet local server is asked whether it is alive (seconds)."""
REMOTE_PING_EVERY_S = 30.0
"""The same for a remote server: each ping is an HTTP request (and a log line of the HTTP client); a drop in
between is also seen by the next call, which gets an error and starts the reconnect."""
_FAILURES = (OSError, MCPError, ToolSecurityError, httpx2.HTTPError, anyio.BrokenResourceError,
             anyio.ClosedResourceError, anyio.EndOfStream)
"""How a connection to a server fails: it cannot start or be reached (or its URL is refused), it answers with an
error, it went away."""


class SupervisedServer:
    """One server: `run` keeps it connected, `tools` is what it offers now, `call` runs one call."""

    def __init__(self, server: McpServer, *, base_dir: Path, agent: str, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.name = describe(server)
        self.base_dir = base_dir
        self.agent = agent
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.tools: list[McpTool] = []
        self.changed = anyio.Event()
        """Set when the server's tool list changed after the first listing (the session hands over to declare it)."""
        self._session: ClientSession | None = None
        self._lost = anyio.Event()
        self._warned: set[str] = set()
        """Problems already logged: a schema conversion or a name left out is said once, not at every restart."""

    @property
    def up(self) -> bool:
        """Connected and listed now."""
        return self._session is not None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Keep the server connected until cancelled; `started` after the first attempt, up or not."""
        reconnects = Reconnects(self.policy)
        started = False
        while True:
            began, ready = self.clock(), False
            try:
                async with connect(self.server, base_dir=self.base_dir, notify=self.notify) as session:
                    with anyio.fail_after(CONNECT_TIMEOUT_S):
                        await self.list(session)
                    logger.info("agent %s: MCP server %s up with %d tools", self.agent, self.name, len(self.tools))
                    ready = True
                    if not started:
                        task_status.started()
                        started = True
                    await self._watch(session)
            except _FAILURES as error:
                logger.warning("agent %s: MCP server %s is down: %s", self.agent, self.name, _reason(error))
            except BaseExceptionGroup as errors:  # the SDK's task groups wrap what failed in them
                failures, rest = errors.split(_FAILURES)
                if rest is not None or failures is None:
                    raise
                logger.warning("agent %s: MCP server %s is down: %s", self.agent, self.name, _reason(failures))
            finally:
                self._session = None
            if not started:
                task_status.started()
                started = True
            decision = reconnects.after(Recovery.RESUME, ready=ready, lasted_s=self.clock() - began,
                                        jitter=random.random())
            delay_s = decision.delay_s
            if decision.next is not Next.RECONNECT:
                reconnects, delay_s = Reconnects(self.policy), self.policy.longest_backoff_s
            logger.info("agent %s: MCP server %s restarts in %.1f s", self.agent, self.name, delay_s)
            await anyio.sleep(delay_s)

    async def list(self, session: ClientSession) -> None:
        """Ask the server for its tools and keep those the agent file selects."""
        result = await session.list_tools()
        listed = [Listed(tool.name, tool.description or "", dict(tool.input_schema)) for tool in result.tools]
        tools, problems = select(self.server, listed)
        for problem in problems:
            self._warn_once(f"agent {self.agent}: MCP server {self.name}: {problem}")
        for tool in tools:
            for change in tool.changes:
                self._warn_once(
                    f"agent {self.agent}: MCP tool {tool.name}: schema converted for the Live API: {change}"
                )
        self.tools = tools

    def _warn_once(self, line: str) -> None:
        if line not in self._warned:
            self._warned.add(line)
            logger.warning("%s", line)

    async def _watch(self, session: ClientSession) -> None:
        """Return when the server is gone: the transport said so, a call failed, or a ping went unanswered."""
        self._lost = anyio.Event()
        self._session = session
        while not self._lost.is_set():
            with anyio.move_on_after(PING_EVERY_S if self.server.command is not None else REMOTE_PING_EVERY_S):
                await self._lost.wait()
            if self._lost.is_set():
                return
            with anyio.fail_after(CONNECT_TIMEOUT_S):
                await session.send_ping()

    async def notify(self, message: IncomingMessage) -> None:
        """The SDK's message handler: a changed tool list is listed again, a transport error ends the connection."""
        if isinstance(message, Exception):
            logger.warning("agent %s: MCP server %s: %s", self.agent, self.name, _reason(message))
            self._lost.set()
        elif isinstance(message, types.ToolListChangedNotification) and self._session is not None:
            await self.list(self._session)
            logger.info("agent %s: MCP server %s changed its tools: %s", self.agent, self.name,
                        ", ".join(tool.name for tool in self.tools))
            self.changed.set()

    async def call(self, tool: McpTool, args: dict[str, Any]) -> dict[str, Any]:
        """One call, to completion; cancellation propagates (the SDK cancels the request on the server)."""
        session = self._session
        if session is None:
            return {"error": f"the MCP server of tool {tool.name} is not running; it is being restarted"}
        try:
            result = await session.call_tool(tool.server_name, args)
        except MCPError as error:
            if error.code == CONNECTION_CLOSED:
                self._lost.set()
                return {"error": f"the MCP server of tool {tool.name} went away; it is being restarted"}
            return {"error": f"MCP error {error.code}: {error.message}"}
        except _FAILURES as error:
            self._lost.set()
            return {"error": f"the MCP server of tool {tool.name} went away: {_reason(error)}"}
        return as_response(result)


def _reason(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
