"""Tools under attack: the model picks the arguments, the service picks the answer. The SSRF guard holds for
URLs built from arguments, and what goes back to the model is size-capped whatever a tool returns."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

import runtime.live.tools as tools
from runtime.agentfile.resolved_tools import declared, resolve_tool
from runtime.agentfile.spec import Tool

pytestmark = pytest.mark.anyio

RESULT_CAP_BYTES = 64 * 1024
"""What one tool result may put in front of the model (the HTTP tools' cap), plus room for a note."""
HUGE_BYTES = 8 * 2**20


def http_tool(url: str, **extra: Any) -> Tool:
    return Tool.model_validate(
        {
            "name": "fetch",
            "description": "d",
            "http": {"url": url, **extra},
            "parameters": {"type": "object", "properties": {"host": {"type": "string"}}},
            "timeout_s": 5,
        }
    )


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "2852039166", "0xA9FEA9FE", "[::ffff:169.254.169.254]", "[fd00:ec2::254]", "[fe80::1]"],
)
async def test_a_host_chosen_by_the_model_cannot_reach_metadata(host: str) -> None:
    runner = tools.ToolRunner([declared(http_tool("http://{host}/latest/meta-data/"))])
    outcome = await runner.call("fetch", "1", {"host": host})
    assert not outcome.ok
    assert "refused" in outcome.result["error"]


async def test_an_argument_cannot_smuggle_a_scheme_or_credentials() -> None:
    runner = tools.ToolRunner([declared(http_tool("{host}"))])
    for host in ("file:///etc/passwd", "gopher://127.0.0.1:25/", "http://u:p@127.0.0.1/"):
        outcome = await runner.call("fetch", "1", {"host": host})
        assert not outcome.ok and "refused" in outcome.result["error"], (host, outcome.result)


async def flood(listener: anyio.abc.SocketListener, status: bytes) -> None:
    """A service that answers every request with 8 MiB, streamed in chunks."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            await stream.send(b"HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (status, HUGE_BYTES))
            chunk = b"x" * 65536
            try:
                for _ in range(HUGE_BYTES // len(chunk)):
                    await stream.send(chunk)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
                pass  # the client stopped reading: that is the point

    await listener.serve(handle)


@pytest.fixture(params=[b"200 OK", b"500 Internal Server Error"])
async def flooding_service(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with anyio.create_task_group() as group:
        group.start_soon(flood, listener, request.param)
        yield int(listener.extra(anyio.abc.SocketAttribute.local_port))
        group.cancel_scope.cancel()


async def test_a_flooding_service_gives_the_model_a_capped_result(flooding_service: int) -> None:
    runner = tools.ToolRunner([declared(http_tool(f"http://127.0.0.1:{flooding_service}/"))])
    tracemalloc.start()
    try:
        outcome = await runner.call("fetch", "1", {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = len(json.dumps(outcome.result))
    print(f"\n8 MiB answer: result {size} bytes, peak {peak / 2**20:.2f} MiB while reading")
    assert size <= RESULT_CAP_BYTES + 1024
    assert peak < 4 * 2**20


@pytest.mark.parametrize("function", ["returns_huge", "raises_huge"])
async def test_a_python_tool_result_is_capped_too(tmp_path: Path, function: str) -> None:
    (tmp_path / "greedy_tools.py").write_text(
        f"def returns_huge() -> str:\n    return 'x' * {HUGE_BYTES}\n\n"
        f"def raises_huge() -> str:\n    raise ValueError('x' * {HUGE_BYTES})\n"
    )
    tool = Tool.model_validate({"name": "greedy", "description": "d", "python": f"greedy_tools:{function}"})
    runner = tools.ToolRunner([resolve_tool(tool, tmp_path)])
    outcome = await runner.call("greedy", "1", {})
    assert len(json.dumps(outcome.result)) <= RESULT_CAP_BYTES + 1024
