"""Replay a conformance trace against the emulator and compare what it answers with what the service said.

The trace's client messages are sent again, in order, each once the emulator has said what the service had
said before it (the `anchor`: the n-th toolCall, turnComplete or setupComplete). Markers become stand-ins:
each typed turn `<text:N>` becomes "conformance turn K", other text "x"s, audio silence of its length, a call
id the id the emulator gave that call, a handle the latest one the emulator issued. The emulator's script
is read from the trace too: for turn K, say something where the service spoke and call the functions it
called, in the same order. The emulator's messages are cut where the trace's client closed (later ones
were in flight and never read).
"""

from __future__ import annotations

import array
import base64
import json
import math
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from runtime.emulator import EmulatorOptions, EmulatorThread, parse_scenario
from tests.conformance.shape import Close, close_differences, differences, quoted_differences, shape

TEXT_MARKER = re.compile(r"^<text:(\d+)>$")
AUDIO_MARKER = re.compile(r"^<(?:audio|bytes):(\d+)(:voiced)?>$")
HANDLE_MARKER = re.compile(r"^<handle:\d+>$")
WAIT_S = 15.0
IDLE_S = 1.5
MAX_AUDIO_BYTES = 1 << 20


@dataclass(frozen=True)
class Event:
    conn: int
    sender: str
    msg: dict[str, Any] | None
    close: Close | None


@dataclass(frozen=True)
class Trace:
    header: dict[str, Any]
    events: tuple[Event, ...]

    def connections(self) -> list[int]:
        return sorted({event.conn for event in self.events})


def load_trace(path: Path) -> Trace:
    header: dict[str, Any] = {}
    events: list[Event] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if "trace" in entry:
            header = entry["trace"]
            continue
        close = Close(entry["close"]["code"], entry["close"]["reason"]) if "close" in entry else None
        events.append(Event(int(entry["conn"]), entry["from"], entry.get("msg"), close))
    return Trace(header, tuple(events))


def tone(size: int) -> bytes:
    """`size` bytes of a 440 Hz tone at speech level: the stand-in for voiced audio."""
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * n / 16000)) for n in range(size // 2)))
    return samples.tobytes()


def anchor(message: dict[str, Any]) -> str | None:
    """The event a client waited for before its next message: a counted structural one, or the model starting
    to speak (`content`: it counts once per client message, however many chunks the reply takes)."""
    server_content = message.get("serverContent") or {}
    for name, present in (("toolCall", "toolCall" in message), ("turnComplete", server_content.get("turnComplete")),
                          ("interrupted", server_content.get("interrupted")),
                          ("setupComplete", "setupComplete" in message),
                          ("content", "modelTurn" in server_content or "outputTranscription" in server_content)):
        if present:
            return name
    return None


def typed_text(message: dict[str, Any]) -> bool:
    realtime = message.get("realtimeInput") or message.get("realtime_input") or {}
    content = message.get("clientContent") or message.get("client_content") or {}
    return "text" in realtime or bool(content.get("turnComplete") or content.get("turn_complete"))


def scenario_rules(events: list[Event]) -> list[dict[str, Any]]:
    """One rule per typed turn: the functions the service called and where it spoke, in order."""
    rules: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] | None = None
    for event in events:
        if event.msg is None:
            continue
        if event.sender == "client" and typed_text(event.msg):
            steps = []
            rules.append({"when": {"text": f"conformance turn {len(rules) + 1}:"}, "then": steps})
        elif event.sender == "server" and steps is not None:
            steps.extend(_steps(event.msg, steps))
    return rules


def _steps(message: dict[str, Any], so_far: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = (message.get("toolCall") or {}).get("functionCalls") or []
    if calls:
        return [{"tool_call": {"name": call["name"], "args": call.get("args") or {}}} for call in calls]
    content = message.get("serverContent") or {}
    spoke = "modelTurn" in content or "outputTranscription" in content
    if spoke and (not so_far or "say" not in so_far[-1]):
        return [{"say": "ok."}]
    return []


@dataclass
class Stand:
    """Stand-ins for the markers of one connection."""

    turns: int = 0
    call_ids: dict[str, str] = field(default_factory=dict)
    trace_calls: list[str] = field(default_factory=list)
    emulator_calls: list[str] = field(default_factory=list)
    handle: str = ""
    sent_at: int = 0
    """How many emulator messages had arrived when the last client message went out."""

    def fill(self, value: Any, key: str = "", turn_text: bool = False) -> Any:
        if isinstance(value, dict):
            return {k: self.fill(v, k, turn_text) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(item, key, turn_text) for item in value]
        if not isinstance(value, str):
            return value
        if key == "id" and value in self.trace_calls:
            index = self.trace_calls.index(value)
            return self.emulator_calls[index] if index < len(self.emulator_calls) else value
        if HANDLE_MARKER.match(value):
            return self.handle
        if (match := AUDIO_MARKER.match(value)) is not None:
            size = min(int(match.group(1)), MAX_AUDIO_BYTES)
            return base64.b64encode(tone(size) if match.group(2) else bytes(size)).decode()
        if (match := TEXT_MARKER.match(value)) is not None:
            return f"conformance turn {self.turns}:" if turn_text and key == "text" else "x" * int(match.group(1))
        return value


@dataclass
class Outcome:
    messages: list[dict[str, Any]]
    close: Close | None


def replay(trace: Trace) -> list[str]:
    """Every difference between the service's answers in `trace` and the emulator's; empty when they agree."""
    options = trace.header.get("emulator") or {}
    problems: list[str] = []
    for conn in trace.connections():
        events = [event for event in trace.events if event.conn == conn]
        scenario = parse_scenario({"rules": scenario_rules(events)})
        emulator_options = EmulatorOptions(
            scenario_obj=scenario, accept_any_model=bool(options.get("accept_any_model")),
            go_away_after_s=options.get("go_away_after_s"), connection_limit_s=options.get("connection_limit_s"),
        )
        with EmulatorThread(emulator_options) as emulator:
            outcome = _drive(events, emulator.ws_url, emulator.client_ssl_context(), trace.header)
        service = [event.msg for event in events if event.sender == "server" and event.msg is not None]
        exact = trace.header.get("kind") == "captured"
        found = (differences(shape(service), shape(outcome.messages), exact=True) if exact
                 else quoted_differences(shape(service), shape(outcome.messages)))
        service_close = next((event.close for event in events if event.close is not None and event.sender == "server"),
                             None)
        found += close_differences(service_close, outcome.close)
        problems += [f"connection {conn}: {problem}" for problem in found]
    return problems


def _url(ws_url: str, header: dict[str, Any]) -> str:
    version = header.get("api_version", "v1beta")
    return f"{ws_url}/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"


def _drive(events: list[Event], ws_url: str, trust: ssl.SSLContext, header: dict[str, Any]) -> Outcome:
    stand = Stand()
    got: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    server_closes = any(event.close is not None and event.sender == "server" for event in events)
    with connect(_url(ws_url, header), ssl=trust, additional_headers={"x-goog-api-key": "conformance"},
                 max_size=None, open_timeout=WAIT_S) as ws:
        for event in events:
            if event.sender == "server":
                if event.msg is not None:
                    seen.append(event.msg)
                    stand.trace_calls += [call.get("id", "") for call in _calls(event.msg)]
                continue
            if not _wait_for(ws, seen, got, stand):
                return Outcome(got, _closed(ws))
            if event.close is not None:
                break
            assert event.msg is not None
            turn = typed_text(event.msg)
            stand.turns += int(turn)
            ws.send(json.dumps(stand.fill(event.msg, turn_text=turn)))
            stand.sent_at = len(got)
        if server_closes:
            _read_until_closed(ws, got, stand)
            return Outcome(got, _closed(ws))
        # The trace's client closed here: what the emulator sends later was never read. A quote (a derived
        # trace) may leave out what came after its last anchor, so the emulator's next answers are read too.
        _wait_for(ws, seen, got, stand)
        if header.get("kind") != "captured":
            _read_until_idle(ws, got, stand)
        return Outcome(list(got), _closed(ws))


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = (message.get("toolCall") or {}).get("functionCalls") or []
    return calls


def _wait_for(ws: ClientConnection, seen: list[dict[str, Any]], got: list[dict[str, Any]], stand: Stand) -> bool:
    """Read until the emulator has sent as many of the last seen anchor as the service had (the model's speech:
    some of it since the client's last message); False if the connection closed first."""
    anchors = [name for name in (anchor(message) for message in seen) if name is not None]
    if not anchors:
        return True
    wanted = anchors[-1]
    if wanted == "content":
        start = stand.sent_at
        while not any(anchor(message) == "content" for message in got[start:]):
            if not _receive(ws, got, stand):
                return False
        return True
    count = anchors.count(wanted)
    while sum(1 for message in got if anchor(message) == wanted) < count:
        if not _receive(ws, got, stand):
            return False
    return True


def _receive(ws: ClientConnection, got: list[dict[str, Any]], stand: Stand) -> bool:
    try:
        raw = ws.recv(timeout=WAIT_S)
    except (ConnectionClosed, TimeoutError):
        return False
    message = json.loads(raw)
    got.append(message)
    stand.emulator_calls += [call["id"] for call in _calls(message)]
    update = message.get("sessionResumptionUpdate") or {}
    if update.get("newHandle"):
        stand.handle = update["newHandle"]
    return True


def _read_until_idle(ws: ClientConnection, got: list[dict[str, Any]], stand: Stand) -> None:
    while True:
        try:
            got.append(json.loads(ws.recv(timeout=IDLE_S)))
        except (ConnectionClosed, TimeoutError):
            return
        stand.emulator_calls += [call["id"] for call in _calls(got[-1])]


def _read_until_closed(ws: ClientConnection, got: list[dict[str, Any]], stand: Stand) -> None:
    while _receive(ws, got, stand):
        pass


def _closed(ws: ClientConnection) -> Close | None:
    received = ws.protocol.close_rcvd
    return Close(received.code, received.reason) if received is not None and ws.protocol.close_rcvd_then_sent else None
