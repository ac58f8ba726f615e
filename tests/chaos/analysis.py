"""Figures from what crossed the emulator's wire: which fault ended which connection, how long each agent took
to come back, and which microphone frames never reached the server. Pure functions over plain records.
"""

from __future__ import annotations

import base64
import itertools
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.frames import FrameCount, count_frames, decode_chunks

AGENT_TAG = re.compile(r"chaos agent (\w+)")


@dataclass(frozen=True)
class FaultEvent:
    """A fault the emulator injected (from its log): when, on which connection, what."""

    mono: float
    conn: int
    kind: str
    """`close 1011`, `close 1001`, `close 1008`, `drop`, `delay`, `garbage`, `reject_setup 1011`, `goAway`."""


@dataclass(frozen=True)
class Recovery:
    event: FaultEvent
    agent: str
    setup_s: float | None
    """Fault → setupComplete on the agent's next connection; None if it never came back."""
    audio_s: float | None
    """Fault → first microphone audio on that connection."""


@dataclass
class Wire:
    """The emulator's records, indexed by connection."""

    agent_of: dict[int, str] = field(default_factory=dict)
    opened: dict[int, float] = field(default_factory=dict)
    ready: dict[int, float] = field(default_factory=dict)
    go_away: dict[int, float] = field(default_factory=dict)
    audio: dict[int, list[tuple[float, bytes]]] = field(default_factory=dict)
    sent_at: dict[int, list[float]] = field(default_factory=dict)

    def conns_of(self, agent: str) -> list[int]:
        return sorted((c for c, a in self.agent_of.items() if a == agent), key=lambda c: self.opened[c])


def index_wire(records: Iterable[Mapping[str, Any]], sent: Iterable[Mapping[str, Any]]) -> Wire:
    wire = Wire()
    for record in records:
        conn, message = int(record["conn"]), record["msg"]
        if isinstance(message, dict) and "setup" in message:
            wire.opened.setdefault(conn, float(record["mono"]))
            match = AGENT_TAG.search(str(message["setup"].get("systemInstruction", "")))
            if match:
                wire.agent_of[conn] = match[1]
        elif isinstance(message, dict) and ("realtimeInput" in message or "realtime_input" in message):
            blob = (message.get("realtimeInput") or message["realtime_input"]).get("audio")
            if isinstance(blob, dict) and "data" in blob:
                wire.audio.setdefault(conn, []).append((float(record["mono"]), b64decode(str(blob["data"]))))
    for entry in sent:
        conn, message = int(entry["conn"]), entry["msg"]
        wire.sent_at.setdefault(conn, []).append(float(entry["mono"]))
        if "setupComplete" in message:
            wire.ready.setdefault(conn, float(entry["mono"]))
        if "goAway" in message:
            wire.go_away.setdefault(conn, float(entry["mono"]))
    return wire


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64 (the SDK sends the URL-safe alphabet), padding optional."""
    text = text.replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def all_events(faults: Sequence[FaultEvent], wire: Wire) -> list[FaultEvent]:
    """Injected faults plus every goAway the emulator sent, in time order."""
    go_aways = [FaultEvent(t, conn, "goAway") for conn, t in wire.go_away.items()]
    return sorted([*faults, *go_aways], key=lambda e: e.mono)


def recoveries(events: Sequence[FaultEvent], wire: Wire) -> list[Recovery]:
    """For each event: how long until the same agent had a new connection up, and audio flowing on it
    (for a `delay`: until the same connection carried a server message again)."""
    result = []
    for event in events:
        agent = wire.agent_of.get(event.conn)
        if agent is None:
            continue
        if event.kind == "delay":
            # The server went silent without closing: the connection must carry on, not be replaced.
            after = [t for t in wire.sent_at.get(event.conn, []) if t > event.mono]
            gap = after[0] - event.mono if after else None
            result.append(Recovery(event, agent, gap, gap))
            continue
        later = [c for c in wire.conns_of(agent) if c > event.conn and c in wire.ready and wire.ready[c] >= event.mono]
        if not later:
            result.append(Recovery(event, agent, None, None))
            continue
        conn = later[0]
        first_audio = wire.audio.get(conn, [(None, b"")])[0][0]
        audio_s = None if first_audio is None else first_audio - event.mono
        result.append(Recovery(event, agent, wire.ready[conn] - event.mono, audio_s))
    return result


def ending_of(conn: int, events: Sequence[FaultEvent]) -> str:
    """What ended a connection: its first connection-ending fault, else its goAway, else the client."""
    kinds = [e.kind for e in events if e.conn == conn and e.kind != "delay"]
    faults = [k for k in kinds if k != "goAway"]
    if faults:
        return faults[0]
    return kinds[0] if kinds else "client"


@dataclass(frozen=True)
class Gap:
    """Microphone frames missing on the wire: after frame `last`, frame `first` came next."""

    agent: str
    conn: int
    label: str
    last: int
    first: int


def frames_by_ending(wire: Wire, events: Sequence[FaultEvent]) -> tuple[dict[str, FrameCount], list[Gap]]:
    """Microphone frames lost at each kind of connection ending (and `within` a connection, `reopen`),
    and where each gap was."""
    totals: dict[str, FrameCount] = {}
    gaps: list[Gap] = []

    def add(label: str, count: FrameCount) -> None:
        total = totals.setdefault(label, FrameCount())
        total.received += count.received
        total.lost += count.lost
        total.duplicated += count.duplicated
        total.reopened += count.reopened

    for agent in sorted(set(wire.agent_of.values())):
        last: int | None = None
        for conn in wire.conns_of(agent):
            numbers = [d[1] for d in decode_chunks(pcm for _t, pcm in wire.audio.get(conn, [])) if d is not None]
            if not numbers:
                continue
            within = count_frames(numbers)
            within.lost -= numbers[0]
            add("within", within)
            gaps += [Gap(agent, conn, "within", a, b) for a, b in itertools.pairwise(numbers) if b != a + 1]
            if last is not None:
                label = ending_of(_previous_conn(wire, agent, conn), events)
                boundary = count_frames([last, numbers[0]])
                boundary.received, boundary.lost = 0, boundary.lost - last
                label = "reopen" if boundary.reopened else label
                add(label, boundary)
                if numbers[0] != last + 1:
                    gaps.append(Gap(agent, conn, label, last, numbers[0]))
            last = numbers[-1]
    return totals, gaps


def _previous_conn(wire: Wire, agent: str, conn: int) -> int:
    conns = wire.conns_of(agent)
    return conns[conns.index(conn) - 1]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (the value a reader can find in the data)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def summary_s(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s, max {max(values):.2f} s"


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
