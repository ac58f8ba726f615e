"""Turns the emulator's record and a client's device log into the figures: pure functions, no I/O.

Inputs:
- `records`: client messages the emulator received, each {"conn", "mono", "msg"} (`mono` is the
  receiving side's `time.monotonic()`, comparable across processes on Linux);
- `sent`: server messages the emulator sent, each {"conn", "mono", "msg"};
- a `DeviceLog` written by the client process: when each numbered microphone block was ready in the capture
  callback, what each speaker callback handed over, and the silences it played.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.markers import MarkerScanner


@dataclass
class DeviceLog:
    """What a client's simulated sound card saw, in `time.monotonic()` seconds."""

    mic_ready: dict[int, float] = field(default_factory=dict)
    """Microphone block index -> when the capture callback had it."""
    played: list[tuple[int, int, float]] = field(default_factory=list)
    """(byte offset in everything played, bytes of audio, callback time) per callback that played audio."""
    silence_after_audio: list[float] = field(default_factory=list)
    """Callback times that played silence right after a callback that played audio (or applied a flush)."""
    gaps: list[tuple[float, float]] = field(default_factory=list)
    """Mid-turn silences on the speaker: (first silent callback, next audible callback)."""
    underruns: int = 0
    ended: str = ""
    """Why the client's session ended before the run did ("" if it did not)."""
    t_start: float = 0.0
    t_end: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mic_ready": [[index, mono] for index, mono in self.mic_ready.items()],
            "played": [list(row) for row in self.played],
            "silence_after_audio": self.silence_after_audio,
            "gaps": [list(gap) for gap in self.gaps],
            "underruns": self.underruns,
            "ended": self.ended,
            "t_start": self.t_start,
            "t_end": self.t_end,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> DeviceLog:
        return cls(
            mic_ready={int(index): float(mono) for index, mono in document.get("mic_ready", [])},
            played=[(int(a), int(b), float(c)) for a, b, c in document.get("played", [])],
            silence_after_audio=[float(t) for t in document.get("silence_after_audio", [])],
            gaps=[(float(a), float(b)) for a, b in document.get("gaps", [])],
            underruns=int(document.get("underruns", 0)),
            ended=str(document.get("ended", "")),
            t_start=float(document.get("t_start", 0.0)),
            t_end=float(document.get("t_end", 0.0)),
        )


def _get(mapping: Any, *names: str) -> Any:
    """The first of `names` present in `mapping` (the wire accepts camelCase and snake_case)."""
    if isinstance(mapping, Mapping):
        for name in names:
            if name in mapping:
                return mapping[name]
    return None


def _b64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_") if ("-" in text or "_" in text) else base64.b64decode(padded)
    except (binascii.Error, ValueError):
        return b""


def uplink_audio(msg: Any) -> bytes:
    """The microphone bytes in one client message (realtimeInput.audio, or legacy mediaChunks)."""
    realtime = _get(msg, "realtimeInput", "realtime_input")
    if realtime is None:
        return b""
    chunks = [_get(realtime, "audio"), *(_get(realtime, "mediaChunks", "media_chunks") or [])]
    out = b""
    for chunk in chunks:
        data = _get(chunk, "data")
        if isinstance(data, bytes):
            out += data
        elif isinstance(data, str):
            out += _b64(data)
    return out


def downlink_audio(msg: Any) -> bytes:
    """The model's audio in one server message."""
    turn = _get(_get(msg, "serverContent", "server_content"), "modelTurn", "model_turn")
    out = b""
    for part in _get(turn, "parts") or []:
        data = _get(_get(part, "inlineData", "inline_data"), "data")
        if isinstance(data, str):
            out += _b64(data)
        elif isinstance(data, bytes):
            out += data
    return out


def is_interrupted(msg: Any) -> bool:
    return bool(_get(_get(msg, "serverContent", "server_content"), "interrupted"))


def is_turn_complete(msg: Any) -> bool:
    return bool(_get(_get(msg, "serverContent", "server_content"), "turnComplete", "turn_complete"))


def is_go_away(msg: Any) -> bool:
    return _get(msg, "goAway", "go_away") is not None


def received_blocks(records: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, float, int]]:
    """(block index, receipt time, connection) of every numbered microphone block the emulator received."""
    scanners: dict[Any, MarkerScanner] = {}
    for record in records:
        audio = uplink_audio(record.get("msg"))
        if not audio:
            continue
        conn = record.get("conn", 0)
        scanner = scanners.setdefault(conn, MarkerScanner())
        for _, index in scanner.feed(audio):
            yield index, float(record["mono"]), conn


def uplink_ms(records: Iterable[Mapping[str, Any]], log: DeviceLog) -> list[float]:
    """Block ready in the capture callback -> the message holding its marker received, per block (first copy)."""
    seen: set[int] = set()
    out: list[float] = []
    for index, mono, _ in received_blocks(records):
        ready = log.mic_ready.get(index)
        if ready is None or index in seen:
            continue
        seen.add(index)
        out.append((mono - ready) * 1000)
    return out


def frame_accounting(records: Iterable[Mapping[str, Any]], log: DeviceLog, grace_s: float = 1.0) -> tuple[int, int]:
    """(lost, duplicated) microphone blocks: captured after the first one received and at least `grace_s`
    before the run ended, yet never received; or received more than once."""
    counts = Counter(index for index, _, _ in received_blocks(records))
    if not counts:
        return len(log.mic_ready), 0
    first = min(counts)
    cutoff = log.t_end - grace_s
    lost = sum(
        1 for index, ready in log.mic_ready.items() if index >= first and ready <= cutoff and index not in counts
    )
    duplicated = sum(count - 1 for count in counts.values() if count > 1)
    return lost, duplicated


def downlink_ms(sent: Sequence[Mapping[str, Any]], log: DeviceLog) -> list[float]:
    """Audio chunk sent -> its first sample handed to the speaker callback, matched by byte offset.

    Everything sent is played, in order, only until the first barge-in: only turns completed before it count.
    """
    starts: list[tuple[int, float]] = []
    turn: list[tuple[int, float]] = []
    offset = 0
    for message in sent:
        msg = message.get("msg")
        if is_interrupted(msg):
            break
        audio = downlink_audio(msg)
        if audio:
            turn.append((offset, float(message["mono"])))
            offset += len(audio)
        if is_turn_complete(msg):
            starts += turn
            turn = []
    out: list[float] = []
    played = iter(log.played)
    current = next(played, None)
    for chunk_offset, sent_mono in starts:
        while current is not None and current[0] + current[1] <= chunk_offset:
            current = next(played, None)
        if current is None:
            break
        out.append((current[2] - sent_mono) * 1000)
    return out


def interrupt_ms(sent: Iterable[Mapping[str, Any]], log: DeviceLog) -> list[float]:
    """`interrupted` sent -> the next callback that played silence after audio, per interruption."""
    silences = sorted(log.silence_after_audio)
    out: list[float] = []
    for message in sent:
        if not is_interrupted(message.get("msg")):
            continue
        at = float(message["mono"])
        after = next((t for t in silences if t >= at), None)
        if after is not None and after - at < 2.0:
            out.append((after - at) * 1000)
    return out


def handover_kinds(
    sent: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> tuple[list[float], list[float]]:
    """(goAway times, drop times): a connection that ended, other than the last, without a goAway was dropped."""
    go_aways: dict[Any, float] = {}
    last_seen: dict[Any, float] = {}
    for entry in [*records, *sent]:
        conn = entry.get("conn", 0)
        last_seen[conn] = max(last_seen.get(conn, 0.0), float(entry["mono"]))
    for message in sent:
        if is_go_away(message.get("msg")):
            go_aways.setdefault(message.get("conn", 0), float(message["mono"]))
    ended = sorted(last_seen.items(), key=lambda item: item[1])[:-1]
    drops = [mono for conn, mono in ended if conn not in go_aways]
    return sorted(go_aways.values()), drops


def speaker_gap_ms(log: DeviceLog, around: Sequence[float], window_s: float = 5.0) -> float:
    """Longest mid-turn silence on the speaker starting within `window_s` after any of the handover times."""
    longest = 0.0
    for start, end in log.gaps:
        if any(at - 0.5 <= start <= at + window_s for at in around):
            longest = max(longest, (end - start) * 1000)
    return round(longest, 1)
