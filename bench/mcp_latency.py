"""What an MCP tool costs: the latency a call through an MCP server adds over a Python tool doing the same work
(stdio and streamable HTTP, p50/p95), and the CPU and memory of one idle stdio server.

    .venv/bin/python -m bench.mcp_latency [--calls 300] [--idle-s 20]

Each call goes through `ToolRunner.call` (argument validation, timeout, redaction, logging) as in a session;
the server is `tests.mcp.home_server` (the SDK's own server side), on this machine, over 127.0.0.1 for HTTP.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import psutil

from runtime.agentfile.resolved_tools import resolve_tools
from runtime.agentfile.spec import AgentSpec
from runtime.live.tools import ToolRunner
from runtime.mcp.toolset import McpToolset
from tests.mcp.servers import ROOT, http_server, pids

TOOL_PY = 'def turn_on(room: str) -> str:\n    return f"lights on in {room}"\n'


async def _timed_calls(runner: ToolRunner, name: str, calls: int) -> list[float]:
    for _ in range(10):  # warm-up: imports, first connection, jsonschema
        await runner.call(name, "warm", {"room": "kitchen"})
    took = []
    for index in range(calls):
        started = time.perf_counter()
        outcome = await runner.call(name, str(index), {"room": "kitchen"})
        took.append((time.perf_counter() - started) * 1000)
        assert outcome.ok, outcome.result
    return took


def _percentiles(took: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(took, n=100)
    return {"p50_ms": round(cuts[49], 3), "p95_ms": round(cuts[94], 3)}


async def _mcp(entry: dict[str, Any], calls: int, idle_s: float, marks: Path) -> dict[str, Any]:
    spec = AgentSpec.model_validate({"model": "gemini-3.8-live", "tools": [entry]})
    toolset = McpToolset(spec, base_dir=ROOT, agent="bench")
    async with anyio.create_task_group() as group:
        await group.start(toolset.run)
        runner = ToolRunner([], later=toolset)
        result: dict[str, Any] = _percentiles(await _timed_calls(runner, "turn_on", calls))
        if idle_s and "command" in entry["mcp"]:
            result["idle"] = await _idle(pids(marks)[-1], idle_s)
        group.cancel_scope.cancel()
    return result


async def _idle(pid: int, idle_s: float) -> dict[str, float]:
    """CPU (percent of one core) and RSS of the server while nothing calls it (the client pings it every 5 s)."""
    process = psutil.Process(pid)
    process.cpu_percent(None)
    await anyio.sleep(idle_s)
    return {"cpu_percent": round(process.cpu_percent(None), 3),
            "rss_mib": round(process.memory_info().rss / 2**20, 1),
            "uss_mib": round(process.memory_full_info().uss / 2**20, 1)}


async def main(calls: int, idle_s: float, scratch: Path) -> dict[str, Any]:
    (scratch / "bench_tools.py").write_text(TOOL_PY)
    spec = AgentSpec.model_validate({"model": "gemini-3.8-live",
                                     "tools": [{"name": "turn_on", "python": "bench_tools:turn_on"}]})
    python = ToolRunner(resolve_tools([tool for _, tool in spec.functions()], scratch))
    report: dict[str, Any] = {"python": _percentiles(await _timed_calls(python, "turn_on", calls))}
    stdio_marks = scratch / "stdio"
    stdio_marks.mkdir()
    stdio = {"mcp": {"command": [sys.executable, "-m", "tests.mcp.home_server"],
                     "env": {"MARKS_DIR": str(stdio_marks), "PYTHONPATH": str(ROOT)}}}
    report["mcp_stdio"] = await _mcp(stdio, calls, idle_s, stdio_marks)
    http_marks = scratch / "http"
    http_marks.mkdir()
    with http_server(http_marks) as url:
        report["mcp_http"] = await _mcp({"mcp": {"url": url}}, calls, 0, http_marks)
    for kind in ("mcp_stdio", "mcp_http"):
        report[kind]["added_p50_ms"] = round(report[kind]["p50_ms"] - report["python"]["p50_ms"], 3)
        report[kind]["added_p95_ms"] = round(report[kind]["p95_ms"] - report["python"]["p95_ms"], 3)
    report["calls"] = calls
    report["load_average"] = list(psutil.getloadavg())
    return report


if __name__ == "__main__":
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--idle-s", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
        print(json.dumps(anyio.run(main, args.calls, args.idle_s, Path(scratch)), indent=2))
