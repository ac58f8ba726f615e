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
import bisect
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
    played_pcm: bytearray = field(default_factory=bytearray)
    """Everything played, so sent chunks can be found in it by content."""
    silence_after_audio: list[float] = field(default_factory=list)
    """Callback times that played silence right after a callback that played audio (or applied a flush)."""
    silences: list[tuple[int, float, float]] = field(default_factory=list)
    """Every silence after audio that ended: (byte offset in everything played, the callback that went short,
    the next callback that played audio). What each one was is decided by `bench.silences`."""
    client_underruns: int | None = None
    """The client's own underrun counter, where it has one (the runtime's playback buffer)."""
    ended: str = ""
    """Why the client's session ended before the run did ("" if it did not)."""
    t_start: float = 0.0
    t_end: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mic_ready": [[index, mono] for index, mono in self.mic_ready.items()],
            "played": [list(row) for row in self.played],
            "played_pcm": base64.b64encode(self.played_pcm).decode(),
            "silence_after_audio": self.silence_after_audio,
            "silences": [list(silence) for silence in self.silences],
            "client_underruns": self.client_underruns,
            "ended": self.ended,
            "t_start": self.t_start,
            "t_end": self.t_end,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> DeviceLog:
        return cls(
            mic_ready={int(index): float(mono) for index, mono in document.get("mic_ready", [])},
            played=[(int(a), int(b), float(c)) for a, b, c in document.get("played", [])],
            played_pcm=bytearray(base64.b64decode(document.get("played_pcm", ""))),
            silence_after_audio=[float(t) for t in document.get("silence_after_audio", [])],
            silences=[(int(a), float(b), float(c)) for a, b, c in document.get("silences", [])],
            client_underruns=None if document.get("client_underruns") is None else int(document["client_underruns"]),
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


def first_setup_complete(sent: Iterable[Mapping[str, Any]]) -> float:
    """When the first session was up (0.0 if never)."""
    for message in sent:
        if _get(message.get("msg"), "setupComplete", "setup_complete") is not None:
            return float(message["mono"])
    return 0.0


def uplink_ms(records: Iterable[Mapping[str, Any]], log: DeviceLog, since: float = 0.0) -> list[float]:
    """Block ready in the capture callback -> the message holding its marker received, per block (first copy).

    Blocks captured before `since` (the session's first setupComplete) waited for the connection, not the
    uplink, and are left out."""
    seen: set[int] = set()
    out: list[float] = []
    for index, mono, _ in received_blocks(records):
        ready = log.mic_ready.get(index)
        if ready is None or index in seen or ready < since:
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


def downlink_ms(sent: Sequence[Mapping[str, Any]], log: DeviceLog, late_s: float = 1.0) -> list[float]:
    """Audio chunk sent -> its first sample handed to the speaker callback, per chunk that was played.

    Each chunk is looked up by content in what the speaker played, in order; a chunk that was never played
    (flushed by a barge-in, or dropped) is not found within `late_s` of being sent and is left out.
    """
    starts = [offset for offset, _, _ in log.played]
    out: list[float] = []
    cursor = 0
    for message in sent:
        audio = downlink_audio(message.get("msg"))
        if not audio:
            continue
        sent_mono = float(message["mono"])
        position = log.played_pcm.find(audio, cursor)
        if position < 0:
            continue
        row = log.played[max(0, bisect.bisect_right(starts, position) - 1)]
        if row[2] - sent_mono > late_s:
            continue
        out.append((row[2] - sent_mono) * 1000)
        cursor = position + len(audio)
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
