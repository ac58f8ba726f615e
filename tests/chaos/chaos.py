"""Chaos: four agents under a fault schedule that fires every kind of emulator fault, plus a microphone that
disappears and comes back; the figures come from the emulator's records, never from the daemon's word.

Run alone: `.venv/bin/python -m tests.chaos.chaos [--seconds 50]`.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from runtime.emulator import Fault
from tests.chaos.analysis import (
    FaultEvent,
    Gap,
    Recovery,
    all_events,
    frames_by_ending,
    index_wire,
    recoveries,
    summary_s,
)
from tests.chaos.frames import FrameCount, SpeechPattern
from tests.chaos.rig import Rig, agent_file, drain_notify, emulator_options, last_status, make_agents, running

AGENTS = ["a1", "a2", "a3", "a4"]
GO_AWAY_AFTER_S = 4.0
CONNECTION_LIMIT_S = 40.0
FAULT_AT_S = 1.5
ROTATION = (
    Fault("close", FAULT_AT_S, code=1011),
    Fault("close", FAULT_AT_S, code=1001, reason="Going away."),
    Fault("drop", FAULT_AT_S),
    Fault("garbage", FAULT_AT_S),
    Fault("delay", FAULT_AT_S, seconds=1.5),
    Fault("reject_setup", code=1011, reason="The service is currently unavailable."),
)
ONCE = Fault("close", FAULT_AT_S, code=1008, reason="Request violates a policy.", once=True)
"""Fires on the first connection from its planned one that lives `FAULT_AT_S` (a connection that ends
earlier, say at a handover, would otherwise leave the 1008 unfired and the run without it)."""
EVERY_KIND = frozenset(
    {"close 1011", "close 1001", "close 1008", "drop", "delay", "garbage", "reject_setup 1011", "goAway"}
)
HANDOVER_KINDS = ("goAway", "close 1001")
"""Connection endings after which not one microphone frame may be missing."""
BACKOFF = re.compile(r"reconnecting in ([\d.]+) s")
FATAL_KINDS = ("close 1008",)
"""Endings the session waits out at the slow fatal pace (30 s) by design."""


def fault_plan(first_conn: int = 5, last_conn: int = 400, every: int = 2) -> tuple[Fault, ...]:
    """One fault on every `every`-th connection from `first_conn`, rotating through every kind; 1008 once."""
    plan = [Fault(ONCE.action, ONCE.at, ONCE.code, ONCE.reason, conn=first_conn + every, once=True)]
    conns = [c for c in range(first_conn, last_conn, every) if c != first_conn + every]
    for index, conn in enumerate(conns):
        template = ROTATION[index % len(ROTATION)]
        plan.append(Fault(template.action, template.at, template.code, template.reason, template.seconds, conn))
    return tuple(plan)


@dataclass
class PortOutage:
    """The microphone file of one agent removed (and the agent restarted), then put back."""

    agent: str = ""

    removed_at: float = 0.0
    waiting_seen: bool = False
    restored_at: float = 0.0
    back_after_s: float | None = None
    """Restored file → the agent running again."""


@dataclass
class ChaosResult:
    seconds: float
    events: list[FaultEvent]
    recoveries: list[Recovery]
    frames: dict[str, FrameCount]
    gaps: list[Gap]
    outage: PortOutage
    final_status: str
    daemon_alive: bool
    parked: list[str] = field(default_factory=list)
    connections: int = 0
    backoffs: list[float] = field(default_factory=list)
    """Every `reconnecting in X s` the daemon logged."""

    def injected(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        return dict(sorted(counts.items()))

    def recovered(self) -> list[Recovery]:
        return [r for r in self.recoveries if r.setup_s is not None]

    def unrecovered(self) -> list[Recovery]:
        return [r for r in self.recoveries if r.setup_s is None]

    def ttr(self, group: str) -> list[float]:
        """Seconds to recover for `failures` (transient faults), `fatal` (1008), `goAway` handovers or `delay`."""

        def member(kind: str) -> bool:
            if group in ("goAway", "delay"):
                return kind == group
            return kind not in ("goAway", "delay") and (kind in FATAL_KINDS) == (group == "fatal")

        return [r.setup_s for r in self.recovered() if r.setup_s is not None and member(r.event.kind)]

    def slowest(self, count: int = 5) -> list[Recovery]:
        """The slowest recoveries from transient faults (where the time went)."""
        transient = [r for r in self.recovered() if r.event.kind not in ("goAway", "delay", *FATAL_KINDS)]
        return sorted(transient, key=lambda r: -(r.setup_s or 0.0))[:count]

    def lost_at(self, kind: str) -> int:
        """Microphone frames missing or repeated where a connection ended this way."""
        count = self.frames.get(kind)
        return 0 if count is None else count.lost + count.duplicated

    def lines(self) -> list[str]:
        out = [
            f"chaos: {self.seconds:.0f} s, {self.connections} connections, 4 agents",
            f"faults injected: {sum(self.injected().values())} {self.injected()}",
            f"recovered: {len(self.recovered())}/{len(self.recoveries)}; "
            f"time to recover (fault -> setupComplete) {summary_s(self.ttr('failures'))}; "
            f"1008 (fatal pace) {summary_s(self.ttr('fatal'))}; goAway handover {summary_s(self.ttr('goAway'))}; "
            f"server silent (delay) -> next message {summary_s(self.ttr('delay'))}",
            f"first audio after recovery: {summary_s([r.audio_s for r in self.recovered() if r.audio_s])}",
        ]
        for kind, count in sorted(self.frames.items()):
            out.append(
                f"  mic frames at '{kind}': received {count.received}, lost {count.lost}, duplicated {count.duplicated}"
            )
        out += [f"  gap: {gap}" for gap in self.gaps]
        out.append(f"reconnect backoffs logged: {summary_s(self.backoffs)} over {len(self.backoffs)} reconnects")
        out += [f"  slow: {r.agent} conn {r.event.conn} {r.event.kind}: {r.setup_s:.2f} s" for r in self.slowest()]
        out += [
            f"microphone file outage: back {self.outage.back_after_s} s after the file returned",
            f"parked: {self.parked or 'none'}; final STATUS: {self.final_status!r}; alive: {self.daemon_alive}",
        ]
        return out


def _outage(rig: Rig, outage: PortOutage) -> None:
    """Remove the microphone file and restart its agent (an edit): it must wait for the device, not fail.

    The agent is one the 1008 has not hit: a restart would cut its fatal wait short and hide that figure.
    """
    wire = index_wire(list(rig.emulator.records), list(rig.emulator.sent))
    fatal = {wire.agent_of.get(e.conn) for e in rig.fault_log.events if e.kind in FATAL_KINDS}
    outage.agent = next(name for name in reversed(AGENTS) if name not in fatal)
    mic = rig.agents / f"{outage.agent}-mic.wav"
    mark = len(rig.daemon.lines)
    os.replace(mic, mic.with_name(f".{mic.name}.away"))
    outage.removed_at = time.monotonic()
    (rig.agents / f"{outage.agent}.yaml").write_text(agent_file(outage.agent, version=2))
    rig.daemon.wait_line(rf"\b{outage.agent}: .*waiting for it", timeout_s=20, after=mark)
    outage.waiting_seen = True


def _restore(rig: Rig, outage: PortOutage) -> None:
    mic = rig.agents / f"{outage.agent}-mic.wav"
    mark = len(rig.daemon.lines)
    os.replace(mic.with_name(f".{mic.name}.away"), mic)
    outage.restored_at = time.monotonic()
    rig.daemon.wait_line(rf"\b{outage.agent}: audio device is back", timeout_s=40, after=mark)
    outage.back_after_s = round(time.monotonic() - outage.restored_at, 2)


def _until_every_kind_fired(rig: Rig, deadline: float) -> None:
    """A fault planned on a connection that ends early never fires: run on until each kind has."""
    while time.monotonic() < deadline:
        fired = {e.kind for e in rig.fault_log.events} | ({"goAway"} if rig.emulator.sent else set())
        if fired >= EVERY_KIND:
            return
        time.sleep(0.5)


def _settle(rig: Rig, until: float, timeout_s: float) -> list[Recovery]:
    """Wait until every fault injected before `until` has been recovered from, microphone audio flowing again
    (the 1008 agent sits out its fatal wait first), or the timeout; the recoveries of those faults."""
    deadline = time.monotonic() + timeout_s
    while True:
        wire = index_wire(list(rig.emulator.records), list(rig.emulator.sent))
        events = [e for e in all_events(list(rig.fault_log.events), wire) if e.mono < until]
        found = recoveries(events, wire)
        if all(r.audio_s is not None for r in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def run_chaos(tmp: Path, seconds: float = 50.0) -> ChaosResult:
    pattern = SpeechPattern(period_s=3.0, speech_s=1.0)
    agents = make_agents(tmp / "agents", AGENTS, seconds + 90, pattern)
    options = emulator_options(
        2000, go_away_after_s=GO_AWAY_AFTER_S, connection_limit_s=CONNECTION_LIMIT_S, faults=fault_plan()
    )
    outage = PortOutage()
    with running(tmp, agents, options) as rig:
        began = time.monotonic()
        time.sleep(seconds * 0.3)
        _outage(rig, outage)
        time.sleep(3.0)
        _restore(rig, outage)
        time.sleep(max(0.0, began + seconds - time.monotonic()))
        _until_every_kind_fired(rig, deadline=began + 2 * seconds)
        found = _settle(rig, time.monotonic(), timeout_s=45)
        drain_notify(rig.daemon)
        status, alive = last_status(rig.daemon), rig.daemon.process.poll() is None
        wire = index_wire(list(rig.emulator.records), list(rig.emulator.sent))
        events = all_events(list(rig.fault_log.events), wire)
        parked = [line for line in rig.daemon.lines if "parked as failed" in line]
        backoffs = [float(m[1]) for line in rig.daemon.lines if (m := BACKOFF.search(line))]
        elapsed, connections = time.monotonic() - began, rig.emulator.connections
    return ChaosResult(
        elapsed,
        [r.event for r in found],
        found,
        *frames_by_ending(wire, events),
        outage,
        status,
        alive,
        parked,
        connections,
        backoffs,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        result = run_chaos(Path(tmp), args.seconds)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
