"""Soak: hours of conversation for four agents in a real daemon, with the service's connection lifetime scaled
down so that hours of handovers happen in minutes, while the daemon's memory, descriptors and threads are
sampled from /proc and its state directory is watched.

Time scale: the service replaces a connection about every 10 minutes (goAway first). Here a connection lives
`600 / scale` seconds, so `simulated_hours` of connection churn take `simulated_hours * 3600 / scale` seconds.
The conversation itself runs at real pace (a speech turn every 3 s per agent: greetings, stories the next
turn barges into, tool calls), which is denser than any household.

Run alone: `.venv/bin/python -m tests.chaos.soak --seconds 600` (the full soak: about 10 minutes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.frames import SpeechPattern
from tests.chaos.rig import Rig, drain_notify, emulator_options, last_status, make_agents, proc_sample, running

AGENTS = ["s1", "s2", "s3", "s4"]
SERVICE_CONNECTION_S = 600.0
WARM_UP_FRACTION = 0.25
SAMPLE_EVERY_S = 1.0


@dataclass
class Sample:
    at_s: float
    rss_mib: float
    fds: float
    threads: float
    state_files: int
    state_bytes: int


@dataclass
class Conversation:
    """What the emulator saw, counted as it went (its records are emptied after each count)."""

    turns: int = 0
    barge_ins: int = 0
    tool_calls: int = 0
    go_aways: int = 0
    connections: int = 0

    def count(self, sent: list[dict[str, Any]]) -> None:
        for entry in sent:
            message = entry["msg"]
            content = message.get("serverContent", {})
            self.turns += "inputTranscription" in content
            self.barge_ins += bool(content.get("interrupted"))
            self.tool_calls += "toolCall" in message
            self.go_aways += "goAway" in message


@dataclass
class SoakResult:
    real_s: float
    simulated_h: float
    samples: list[Sample]
    conversation: Conversation
    final_status: str
    daemon_alive: bool
    parked: list[str] = field(default_factory=list)

    def steady(self) -> list[Sample]:
        """Samples after the warm-up (imports, first connections, allocator arenas)."""
        start = self.samples[0].at_s + WARM_UP_FRACTION * (self.samples[-1].at_s - self.samples[0].at_s)
        return [s for s in self.samples if s.at_s >= start]

    def slope_per_simulated_hour(self, field_name: str) -> float:
        """Least-squares slope of a sampled quantity after warm-up, per simulated hour."""
        points = [
            (s.at_s * self.simulated_h * 3600 / self.real_s / 3600, getattr(s, field_name)) for s in self.steady()
        ]
        return least_squares_slope(points)

    def spread(self, field_name: str) -> float:
        values = [getattr(s, field_name) for s in self.steady()]
        return float(max(values) - min(values))

    def lines(self) -> list[str]:
        c = self.conversation
        first, last = self.samples[0], self.samples[-1]
        return [
            f"soak: {self.simulated_h:g} simulated hours in {self.real_s:.0f} s, 4 agents, {c.connections} conns,"
            f" {c.go_aways} goAways, {c.turns} speech turns, {c.barge_ins} barge-ins, {c.tool_calls} tool calls",
            f"RSS {first.rss_mib:.1f} -> {last.rss_mib:.1f} MiB, slope after warm-up "
            f"{self.slope_per_simulated_hour('rss_mib'):+.2f} MiB per simulated hour",
            f"fds {first.fds:.0f} -> {last.fds:.0f} (spread after warm-up {self.spread('fds'):.0f}, slope "
            f"{self.slope_per_simulated_hour('fds'):+.2f}/h); threads {first.threads:.0f} -> {last.threads:.0f} "
            f"(slope {self.slope_per_simulated_hour('threads'):+.2f}/h)",
            f"state directory: {last.state_files} files, {last.state_bytes} bytes (max "
            f"{max(s.state_files for s in self.samples)} files)",
            f"parked: {self.parked or 'none'}; final STATUS: {self.final_status!r}; alive: {self.daemon_alive}",
        ]


def least_squares_slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    if variance == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / variance


def _state(directory: Path) -> tuple[int, int]:
    """Files and bytes in the state directory now. The daemon writes a file as a temporary one renamed over
    the old, so a name listed a moment ago may be gone when it is measured: it is no longer there to count."""
    sizes: list[int] = []
    for path in directory.rglob("*") if directory.exists() else []:
        try:
            if path.is_file():
                sizes.append(path.stat().st_size)
        except FileNotFoundError:
            continue
    return len(sizes), sum(sizes)


def _drain(rig: Rig, conversation: Conversation) -> None:
    """Count what the emulator sent so far and forget its records (they would grow for the whole soak)."""
    emulator = rig.emulator
    sent_count, records_count = len(emulator.sent), len(emulator.records)
    conversation.count(emulator.sent[:sent_count])
    del emulator.sent[:sent_count]
    del emulator.records[:records_count]
    emulator._hub.traffic.audio_chunks.clear()


def run_soak(tmp: Path, seconds: float = 60.0, simulated_hours: float = 2.0) -> SoakResult:
    scale = simulated_hours * 3600 / seconds
    connection_s = SERVICE_CONNECTION_S / scale
    agents = make_agents(tmp / "agents", AGENTS, seconds + 30, SpeechPattern(period_s=3.0), output="null")
    options = emulator_options(
        int(seconds) + 100,
        go_away_after_s=connection_s * 0.5,
        connection_limit_s=connection_s,
        session_limit_s=900.0 / scale,
    )
    samples: list[Sample] = []
    conversation = Conversation()
    with running(tmp, agents, options) as rig:
        pid = rig.daemon.process.pid
        began = time.monotonic()
        while (now := time.monotonic()) < began + seconds:
            usage = proc_sample(pid)
            files, size = _state(rig.state)
            samples.append(Sample(now - began, usage["rss_mib"], usage["fds"], usage["threads"], files, size))
            _drain(rig, conversation)
            time.sleep(max(0.0, began + len(samples) * SAMPLE_EVERY_S - time.monotonic()))
        real_s = time.monotonic() - began
        _drain(rig, conversation)
        conversation.connections = rig.emulator.connections
        drain_notify(rig.daemon)
        status, alive = last_status(rig.daemon), rig.daemon.process.poll() is None
        parked = [line for line in rig.daemon.lines if "parked as failed" in line]
    return SoakResult(real_s, simulated_hours, samples, conversation, status, alive, parked)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        result = run_soak(Path(tmp), args.seconds, args.hours)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
