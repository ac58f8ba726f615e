"""A real MCP server for the tests, written with the SDK's server side and run as a process of its own.

`python -m tests.mcp.home_server` serves stdio; `... http PORT` serves streamable HTTP on 127.0.0.1.
Its tools cover what the client must handle: plain text, structured content, `isError`, an image, a call that
hangs (cancellation, timeout), a schema with constructs the Live API refuses, a crash, a changing tool list,
and a dump of what the process got (environment, headers) for the canary tests.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent, TextContent
from pydantic import Field

server = MCPServer("home")
_MARKS = Path(os.environ.get("MARKS_DIR", "/nonexistent"))
"""Where the server leaves traces (pid, cancelled calls) for a test to read; set in its environment."""


@server.tool()
def turn_on(room: Annotated[str, Field(description="The room, e.g. kitchen")]) -> str:
    """Turn on the lights of a room."""
    return f"lights on in {room}"


@server.tool()
def thermostat(celsius: float) -> dict[str, Any]:
    """Set the heating; answers with what it set."""
    return {"set_to": celsius, "unit": "C"}


@server.tool()
def broken() -> str:
    """Always fails."""
    raise ToolError("the bulb is gone")


@server.tool()
def snapshot() -> list[ImageContent | TextContent]:
    """A camera picture and a caption."""
    return [ImageContent(type="image", data="iVBORw0K", mime_type="image/png"),
            TextContent(type="text", text="the hall camera")]


@server.tool()
async def wait_forever(ctx: Context) -> str:
    """Hangs until cancelled; leaves a mark when it starts, and another when it is cancelled."""
    (_MARKS / "started").write_text("yes")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        (_MARKS / "cancelled").write_text("yes")
        raise
    return "never"


@server.tool(description="Pick a mode.")
def pick(mode: dict[str, Any]) -> str:
    return f"picked {mode}"


@server.tool()
def crash() -> str:
    """Ends the server process at once."""
    os._exit(3)


@server.tool()
async def grow(ctx: Context) -> str:
    """Adds a tool `dim` and tells the client its tool list changed."""

    def dim(room: str, percent: int) -> str:
        """Dim a room's lights."""
        return f"{room} at {percent}%"

    server.add_tool(dim)
    await ctx.request_context.session.send_tool_list_changed()
    return "grown"


@server.tool()
def environment(ctx: Context) -> dict[str, Any]:
    """What this process got: its environment, its arguments and (over HTTP) the request's headers (canaries)."""
    request = ctx.request_context.request
    headers = dict(getattr(request, "headers", {}) or {})
    return {"env": dict(os.environ), "argv": sys.argv, "headers": headers}


def _patch_pick_schema() -> None:
    """`pick` declares `oneOf`, `const` and `not`: constructs the Live API refuses in a declaration."""
    tool = server._tool_manager.get_tool("pick")
    assert tool is not None
    tool.parameters = {
        "type": "object",
        "properties": {"mode": {"oneOf": [{"const": "eco"}, {"type": "object", "not": {"required": ["x"]}}]}},
        "required": ["mode"],
    }


def main() -> None:
    _patch_pick_schema()
    if _MARKS.is_dir():
        (_MARKS / f"pid-{os.getpid()}").write_text(str(os.getpid()))
    if len(sys.argv) >= 3 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
