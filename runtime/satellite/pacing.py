"""When the agent's reply goes to the satellite: a play clock kept on this side, so barge-in can stop it.

A Wyoming satellite offers no way to drop audio it has already been sent: wyoming-satellite 1.0.0 queues
every `audio-chunk` for its sound program (`SatelliteBase.event_to_snd`, an unbounded `asyncio.Queue`) and
only closes that program after `audio-stop` (`SndSettings.disconnect_after_stop`), which plays out what it
holds. So the reply is sent at the pace it plays, at most `lead_s` ahead of the play clock: what a barge-in
cannot take back is that lead (plus the satellite's own sound buffer). Home Assistant sends TTS as fast as
it can (`assist_satellite.py` `_stream_tts`), which is fine for a finished answer but would make a
barge-in wait for the whole reply.

Pure: the caller passes the clock and sends what `take` returns (`Start`, `Chunk`, `Stop`).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.audio.ports import SAMPLE_BYTES, SPEAKER_RATE_HZ

BYTES_PER_S = SPEAKER_RATE_HZ * SAMPLE_BYTES


@dataclass(frozen=True)
class Start:
    """`audio-start`: a reply begins (24 kHz mono int16)."""


@dataclass(frozen=True)
class Chunk:
    """`audio-chunk` with this audio."""

    pcm: bytes


@dataclass(frozen=True)
class Stop:
    """`audio-stop`: the reply is over (played out, or cut by a barge-in)."""

    flushed: bool = False


Send = Start | Chunk | Stop


class Pacer:
    """The reply's queue and play clock; `take(now)` says what to send now, `due_in(now)` when to ask again."""

    def __init__(self, *, lead_s: float = 0.12, chunk_s: float = 0.02) -> None:
        self.lead_s = lead_s
        """How far ahead of the play clock audio is sent (seconds): the most a barge-in cannot take back."""
        self.chunk_bytes = int(chunk_s * SPEAKER_RATE_HZ) * SAMPLE_BYTES
        self._pending = bytearray()
        self._played_until = 0.0
        self._in_reply = False
        self._turn_ended = False
        self._flushed = False
        self.sent_bytes = 0
        self.flushed_bytes = 0
        self.cut_replies = 0
        """Replies ended by a barge-in (`audio-stop` sent before their end)."""

    def write(self, pcm: bytes) -> None:
        self._pending += pcm
        self._turn_ended = False

    def end_of_turn(self) -> None:
        self._turn_ended = True

    def flush(self) -> None:
        """Drop what was not sent yet; the reply ends with `audio-stop` at the next `take`."""
        self.flushed_bytes += len(self._pending)
        self._pending.clear()
        self._turn_ended = False
        self._flushed = self._in_reply
        self._played_until = 0.0  # what the satellite still holds is past recall: not ours to wait for

    def forget(self) -> None:
        """A new connection: whatever was queued or sent before is gone with the old one (no `audio-stop` owed)."""
        self.flushed_bytes += len(self._pending)
        self._pending.clear()
        self._in_reply = self._turn_ended = self._flushed = False
        self._played_until = 0.0

    @property
    def idle(self) -> bool:
        """No reply queued or in progress on this side (what was sent may still be sounding)."""
        return not self._pending and not self._in_reply and not self._flushed

    def playing(self, now: float) -> bool:
        return bool(self._pending) or now < self._played_until

    def take(self, now: float) -> list[Send]:
        """What to send at `now`, in order."""
        sends: list[Send] = []
        if self._flushed:
            self._flushed = self._in_reply = False
            self.cut_replies += 1
            sends.append(Stop(flushed=True))
        if self._pending and not self._in_reply:
            self._in_reply = True
            sends.append(Start())
        self._played_until = max(self._played_until, now)  # a gap in the reply: the clock waited for it
        while self._pending and self._played_until - now < self.lead_s:
            chunk = bytes(self._pending[: self.chunk_bytes])
            del self._pending[: len(chunk)]
            self._played_until += len(chunk) / BYTES_PER_S
            self.sent_bytes += len(chunk)
            sends.append(Chunk(chunk))
        if self._in_reply and self._turn_ended and not self._pending:
            self._in_reply = self._turn_ended = False
            sends.append(Stop())
        return sends

    def due_in(self, now: float) -> float | None:
        """Seconds until `take` has something to send (0: now); None: nothing until the next write or flush."""
        if self._flushed or (self._in_reply and self._turn_ended and not self._pending):
            return 0.0
        if not self._pending:
            return None
        if not self._in_reply:
            return 0.0
        return max(0.0, self._played_until - now - self.lead_s)
