"""The test MCP server (`tests.mcp.home_server`) as the agent file would declare it, over stdio or HTTP."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 30.0
"""Longest the test server may take to listen (a deadline, not a measurement)."""


def stdio_entry(marks: Path, **options: Any) -> dict[str, Any]:
    """An `mcp:` entry that starts the test server over stdio, leaving its traces in `marks`."""
    env = {"MARKS_DIR": str(marks), "PYTHONPATH": str(ROOT), **options.pop("env", {})}
    return {"mcp": {"command": [sys.executable, "-m", "tests.mcp.home_server"], "env": env, **options}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def http_server(marks: Path, port: int | None = None) -> Iterator[str]:
    """The test server over streamable HTTP on 127.0.0.1, as a process of its own; yields its URL."""
    port = port or free_port()
    env = {"MARKS_DIR": str(marks), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-m", "tests.mcp.home_server", "http", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert process.poll() is None, "the test MCP server ended before it listened"
            assert time.monotonic() < deadline, "the test MCP server did not listen in time"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


def pids(marks: Path) -> list[int]:
    """The process ids the test server marked when it started (read from the names: a file just created may
    not hold its text yet)."""
    return sorted(int(path.name.removeprefix("pid-")) for path in marks.glob("pid-*"))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False
