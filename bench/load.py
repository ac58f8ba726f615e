"""CPU and memory of 1, 4 and 16 agents streaming at once, with the emulator in a process of its own.

The emulator is `runtime emulate` (a separate process, so its CPU is not counted); the agents run in one
client process (as in the daemon), each talking and listening in a loop at real-time pace. psutil reads the
client's CPU times over a measured window and its peak resident memory.
"""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench import plans
from bench.runs import REPO, Unavailable, child_env, client_command
from bench.stats import median_and_range, unavailable

AGENT_COUNTS = (1, 4, 16)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    ca_file: Path


def read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The next stdout line of `process`, or "" when it ends or `timeout_s` passes first."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    return process.stdout.readline().strip() if ready else ""


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def emulator_process() -> Iterator[Endpoint]:
    """`runtime emulate --port 0` answering every utterance, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        scenario, ca_file = Path(tmp) / "scenario.yaml", Path(tmp) / "ca.pem"
        scenario.write_text(yaml.safe_dump(plans.scenario_document(100_000)))
        command = [sys.executable, "-m", "runtime", "emulate", "--port", "0", "--ca-out", str(ca_file)]
        command += ["--scenario", str(scenario)]
        process = subprocess.Popen(
            command, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            line = read_line(process, 30)
            if not line.startswith("listening on wss://"):
                raise Unavailable(f"runtime emulate did not start: {line or 'no output'}")
            yield Endpoint("https://" + line.removeprefix("listening on wss://"), ca_file)
        finally:
            stop(process)


@dataclass(frozen=True)
class CpuWindows:
    """How the CPU of a client process is sampled: `count` back-to-back windows of `length_s` each, after
    `warmup_s`. The figure is their median and the spread their min-max, so a reader sees how steady it was."""

    warmup_s: float
    length_s: float
    count: int


def cpu_windows(quick: bool) -> CpuWindows:
    """Windows one load cycle long (a shorter window sees talking or listening, not both: 1.2 s windows made
    two quick runs differ by a third); three in a quick run, five (19.4 s) in a full one."""
    return CpuWindows(1.0, plans.LOAD_CYCLE_S, 3) if quick else CpuWindows(3.0, plans.LOAD_CYCLE_S, 5)


def cpu_seconds(watched: Any) -> float:
    times = watched.cpu_times()
    return float(times.user + times.system)


def sample(watched: Any, windows: CpuWindows) -> tuple[list[float], int]:
    """(CPU % of one core in each window, peak RSS in bytes) of a running process."""
    peak_rss = watched.memory_info().rss
    busy_s, started = cpu_seconds(watched), time.monotonic()
    pcts: list[float] = []
    for _ in range(windows.count):
        deadline = started + windows.length_s
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.25, left))  # a measurement window, not synchronisation
            peak_rss = max(peak_rss, watched.memory_info().rss)
        now_busy_s, now = cpu_seconds(watched), time.monotonic()
        pcts.append(round(100 * (now_busy_s - busy_s) / (now - started), 1))
        busy_s, started = now_busy_s, now
    return pcts, peak_rss


def measure_agents(kind: str, count: int, endpoint: Endpoint, windows: CpuWindows) -> tuple[list[float], float, float]:
    """(CPU % of one core per window, peak RSS in MB, seconds from process start to all connected) of `count`
    agents."""
    import psutil  # type: ignore[import-untyped]

    command = [*client_command(kind), "--base-url", endpoint.base_url, "--ca-file", str(endpoint.ca_file)]
    command += ["--plan", "load", "--agents", str(count)]
    spawned = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = read_line(process, 60 + 2 * count)
        connect_s = time.monotonic() - spawned
        if line != "ready":
            stop(process)
            assert process.stderr is not None
            tail = process.stderr.read().strip().splitlines()[-2:]
            raise Unavailable(f"{count} {kind} agents did not connect: {line or ' | '.join(tail)}"[:300])
        watched = psutil.Process(process.pid)
        time.sleep(windows.warmup_s)  # a measurement window, not synchronisation: let connections settle
        pcts, peak_rss = sample(watched, windows)
        return pcts, round(peak_rss / 2**20, 1), round(connect_s, 3)
    finally:
        stop(process)


def cpu_and_memory(kind: str, endpoint: Endpoint, quick: bool) -> dict[str, Any]:
    """{"cpu_pct": median per agent count, "cpu_pct_spread": [min, max] per count, "rss_mb": peak per count,
    "connect_s": process start → one agent connected}. An agent count that fails gets "not available"."""
    windows = cpu_windows(quick)
    cpu: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    rss: dict[str, Any] = {}
    connect: dict[str, Any] = {}
    for count in AGENT_COUNTS:
        key = str(count)
        try:
            pcts, rss[key], connect[key] = measure_agents(kind, count, endpoint, windows)
            cpu[key], spread[key] = median_and_range(pcts)
        except Unavailable as why:
            cpu[key] = spread[key] = rss[key] = connect[key] = unavailable(str(why))
    return {"cpu_pct": cpu, "cpu_pct_spread": spread, "rss_mb": rss, "connect_s": connect["1"]}
