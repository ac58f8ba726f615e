"""What each silence on the speaker was: one definition of an underrun, applied by the bench to every client.

The speaker meter (`bench.devices.SpeakerMeter`) records every silence that follows audio: where it fell in
everything played (a byte offset) and when it began and ended. Whether it was an underrun is decided here,
from what was played on both sides of it and from the replies the emulator sent, never from what a client
says about its own turns (a client's idea of a "turn" is what is being compared, so it cannot be the ruler).

A silence is
- an **underrun** when the audio after it carries on the same reply exactly where the audio before it
  stopped: the speaker ran dry in the middle of a reply and the listener heard a hole in a sentence;
- a **reply end** when the audio before it is the end of a reply the emulator completed (`turnComplete`);
- a **reply cut** otherwise: the reply stopped before its end and did not go on (a barge-in, a dropped
  tail, a reply abandoned at a handover or cut by a dropped connection).
A silence that never ended (the run did) is none of these. Zero samples a client pads the last chunk of a
reply with still end that reply (Pipecat 1.14.0 does: `BaseOutputTransport._enqueue_flushed_audio_buffer`
in pipecat/transports/base_output.py pads the tail "to a full chunk with silence", 40 ms by default).
The meter sees a client's silence when its device runs short; a client that wrote digital silence instead
would hide its holes from it (none of the three does). The runtime's own underrun counter is reported
beside this count as a cross-check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bench.analysis import DeviceLog, downlink_audio, is_interrupted, is_turn_complete

CONTEXT_BYTES = 4800
"""Audio looked at on each side of a silence: 100 ms at 24 kHz, longer than any run of identical samples in
the emulator's voice (a space is 60 ms of zeros), so a match is the same stretch of speech, not a lookalike."""


class Kind(Enum):
    UNDERRUN = "underrun"
    REPLY_END = "reply_end"
    REPLY_CUT = "reply_cut"


@dataclass(frozen=True)
class SentReply:
    """The audio of one reply as the emulator sent it, and whether it was completed (`turnComplete`) rather
    than interrupted or cut by the end of its connection."""

    audio: bytes
    complete: bool


@dataclass(frozen=True)
class Silence:
    """A silence on the speaker: where it fell in everything played, and when (`time.monotonic()` s)."""

    offset_bytes: int
    start_s: float
    end_s: float

    @property
    def duration_ms(self) -> float:
        return (self.end_s - self.start_s) * 1000


def replies_sent(sent: Iterable[Mapping[str, Any]]) -> list[SentReply]:
    """Every reply the emulator sent, whole: a reply ends at `turnComplete` (complete) or `interrupted`
    (whichever comes first: a `turnComplete` after `interrupted` ends nothing) or with its connection."""
    open_replies: dict[Any, bytearray] = {}
    replies: list[SentReply] = []
    for message in sent:
        msg, conn = message.get("msg"), message.get("conn", 0)
        audio = downlink_audio(msg)
        if audio:
            open_replies.setdefault(conn, bytearray()).extend(audio)
        interrupted = is_interrupted(msg)
        if (interrupted or is_turn_complete(msg)) and conn in open_replies:
            replies.append(SentReply(bytes(open_replies.pop(conn)), complete=not interrupted))
    replies += [SentReply(bytes(audio), complete=False) for audio in open_replies.values()]
    return replies


def trim_zeros(pcm: bytes) -> bytes:
    """`pcm` without the zero samples at its end (digital silence a client may pad a last chunk with)."""
    end = len(pcm) - len(pcm) % 2
    while end >= 2 and pcm[end - 2 : end] == b"\0\0":
        end -= 2
    return pcm[:end]


def classify(
    played_pcm: bytes | bytearray,
    offset_bytes: int,
    replies: Sequence[SentReply],
    stretch: tuple[int, int | None] = (0, None),
) -> Kind | None:
    """What the silence at `offset_bytes` of `played_pcm` was; None when nothing was played after it.

    `stretch`: where the silences before and after this one fell, so that the context on each side is audio
    played without a break (an underrun just before a reply's end is not judged by the next reply's start)."""
    first, last = stretch
    stop = offset_bytes + CONTEXT_BYTES if last is None else min(last, offset_bytes + CONTEXT_BYTES)
    before = bytes(played_pcm[max(first, offset_bytes - CONTEXT_BYTES) : offset_bytes])
    after = bytes(played_pcm[offset_bytes:stop])
    if not after:
        return None
    if before and any(before + after in reply.audio for reply in replies):
        return Kind.UNDERRUN
    tail = trim_zeros(before)
    if tail and any(reply.complete and trim_zeros(reply.audio).endswith(tail) for reply in replies):
        return Kind.REPLY_END
    return Kind.REPLY_CUT


def classified(log: DeviceLog, sent: Sequence[Mapping[str, Any]]) -> list[tuple[Silence, Kind]]:
    """Every silence of the run that ended, with what it was."""
    replies = list(set(replies_sent(sent)))
    offsets = [offset_bytes for offset_bytes, _, _ in log.silences]
    out: list[tuple[Silence, Kind]] = []
    for number, (offset_bytes, start_s, end_s) in enumerate(log.silences):
        stretch = (offsets[number - 1] if number else 0, offsets[number + 1] if number + 1 < len(offsets) else None)
        kind = classify(log.played_pcm, offset_bytes, replies, stretch)
        if kind is not None:
            out.append((Silence(offset_bytes, start_s, end_s), kind))
    return out


def underrun_figures(log: DeviceLog, sent: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """{"count": underruns, "silence_ms": their total length, "client_counter": the client's own count or
    None}: the `underruns` metric, the same for every client."""
    holes = [silence for silence, kind in classified(log, sent) if kind is Kind.UNDERRUN]
    return {
        "count": len(holes),
        "silence_ms": round(sum(hole.duration_ms for hole in holes), 1),
        "client_counter": log.client_underruns,
    }


def handover_gaps(log: DeviceLog, sent: Sequence[Mapping[str, Any]], around: Sequence[float]) -> tuple[float, int]:
    """(longest underrun near a handover, ms; replies cut near a handover): silences that begin from 0.5 s
    before to 5 s after one of the `around` times."""
    longest, cut = 0.0, 0
    for silence, kind in classified(log, sent):
        if not any(at - 0.5 <= silence.start_s <= at + 5.0 for at in around):
            continue
        if kind is Kind.UNDERRUN:
            longest = max(longest, silence.duration_ms)
        elif kind is Kind.REPLY_CUT:
            cut += 1
    return round(longest, 1), cut
