"""One connection to one MCP server, through the official SDK: a local server started over stdio, or a remote
one reached over streamable HTTP. No JSON-RPC is written here.

Threat model. A stdio server is a program the agent file names; it gets the environment the file gives it and
nothing of the daemon's (its Gemini API key least of all): the SDK adds only its short list of harmless
variables (HOME, LOGNAME, PATH, SHELL, TERM, USER). It runs in a process group of its own, so that stopping it
(stdin closed, then SIGTERM, then SIGKILL after a grace period: the SDK's shutdown) leaves no orphan. A remote
server's URL is attacker-influenced in the same way an HTTP tool's is (an agent file shared by someone else): it
goes through the SSRF guard (`runtime.guards.netguard`), the connection is pinned to the checked address, the
daemon's proxy variables are ignored, and only the headers the file names are sent.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from mcp.client._transport import TransportStreams
from mcp.client.session import ClientSession, MessageHandlerFnT
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from runtime.agentfile.spec import McpServer

__all__ = ["CONNECT_TIMEOUT_S", "Notify", "connect", "describe"]

CONNECT_TIMEOUT_S = 20.0
"""Longest a server may take to start and answer `initialize` (seconds)."""

Notify = MessageHandlerFnT
"""What the connection's owner hears: server notifications (`tools/list_changed`) and transport errors."""


def describe(server: McpServer) -> str:
    """The server as logs and `runtime tools` name it: its URL or its command."""
    return server.url if server.url is not None else " ".join(server.command or ())


@asynccontextmanager
async def connect(server: McpServer, *, base_dir: Path, notify: Notify) -> AsyncIterator[ClientSession]:
    """An initialized session with the server; leaving the block stops a local server (or ends a remote
    session). Raises `OSError`/`mcp` errors when it cannot be reached, `ToolSecurityError` for a refused URL."""
    async with _transport(server, base_dir) as (read, write), ClientSession(
        read, write, message_handler=notify
    ) as session:
        with anyio.fail_after(CONNECT_TIMEOUT_S):
            await session.initialize()
        yield session  # outside the deadline: the session lives as long as its agent


@asynccontextmanager
async def _transport(server: McpServer, base_dir: Path) -> AsyncIterator[TransportStreams]:
    if server.command is not None:
        program, *args = server.command
        parameters = StdioServerParameters(command=program, args=args, env=dict(server.env), cwd=base_dir)
        async with stdio_client(parameters, errlog=sys.stderr) as streams:
            yield streams
        return
    assert server.url is not None
    import httpx2

    from runtime.guards.netguard import check_url, guarded_transport

    check_url(server.url, allow_private_networks=server.allow_private_networks)
    client = httpx2.AsyncClient(
        transport=guarded_transport(allow_private_networks=server.allow_private_networks),
        headers=dict(server.headers),
        timeout=httpx2.Timeout(30.0, read=300.0),
        trust_env=False,
    )
    async with client, streamable_http_client(server.url, http_client=client) as streams:
        yield streams
