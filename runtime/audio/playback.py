"""The playback buffer between the network and a speaker callback: jitter buffer, instant flush, underrun counts.

The event loop calls `write`, `flush` and `end_of_turn`; the output callback calls `render` once per period.
The arithmetic is pure (no clock, no device), so tests drive `render` directly.

- A turn starts playing once `prebuffer_frames` are queued (absorbs network jitter), or at once when the
  turn is already complete (`end_of_turn`), so a short reply's tail is never held back. The prebuffer is
  applied only there: once playing, the callback takes whatever is queued, so steady-state delay is what was
  queued at the start plus whatever the server sends ahead of real time.
- Adaptive (`start_delay_s` given): a turn also starts once its first audio has waited `delay_s`. A server
  that sends at real-time pace in chunks as long as any prebuffer (the emulator: 40 ms) then keeps a margin
  of `delay_s` before the next chunk is due, whatever the chunk size, and a server that sends ahead of real
  time starts at once. `delay_s` starts at `start_delay_s`, grows by `step_s` after each underrun up to the
  prebuffer's duration, and shrinks by a step after every `decay_frames` played without one.
- A callback that runs dry in the middle of a turn plays silence, counts an underrun and prebuffers again.
- `flush` (barge-in, new turn) fades out what is playing over `fade_frames` and silences the rest within
  the very next callback; audio written after the flush is kept and starts a new turn.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from runtime.audio.ring import Int16Ring, Samples

NO_MARK = -1


class PlaybackBuffer:
    """Jitter buffer state shared by one writer (event loop) and one reader (output callback)."""

    def __init__(
        self,
        capacity_frames: int,
        prebuffer_frames: int,
        fade_frames: int,
        *,
        rate_hz: int = 24_000,
        start_delay_s: float | None = None,
        step_s: float = 0.0,
        decay_frames: int = 0,
    ) -> None:
        self.ring = Int16Ring(capacity_frames)
        self.prebuffer_frames = max(0, min(prebuffer_frames, capacity_frames))
        """Queued audio that starts a turn at once."""
        self.start_delay_s = start_delay_s
        self.max_delay_s = self.prebuffer_frames / rate_hz
        self.step_s = max(0.0, step_s)
        self.decay_frames = max(1, decay_frames)
        self.delay_s = min(start_delay_s, self.max_delay_s) if start_delay_s is not None else self.max_delay_s
        """How long a turn's first audio waits before it plays when less than the prebuffer came (adaptive)."""
        self._arrived_at: float | None = None  # when the audio waiting to start came (set by the writer)
        self._clean_frames = 0  # played since the last underrun or the last shrink
        self.fade_frames = max(0, fade_frames)
        self._ramp: npt.NDArray[np.float32] = np.linspace(1.0, 0.0, self.fade_frames + 2, dtype=np.float32)[1:-1]
        self._scratch: npt.NDArray[np.float32] = np.zeros(max(1, self.fade_frames), dtype=np.float32)
        self.underruns = 0
        """Callback periods that ran dry in the middle of a turn."""
        self.rejected_frames = 0
        """Frames refused because the buffer was full (the writer was far ahead of the speaker)."""
        self._flush_mark = NO_MARK  # written-index at the last unserved flush (set by the writer)
        self._turn_end_mark = NO_MARK  # written-index at the last end_of_turn (set by the writer)
        self.started = False
        """True while a turn is playing (set by the reader)."""
        self._announce_flush = True
        self.flush_served = False
        """Set by the reader when a flush was applied; the port reports it to its observer and clears it."""

    # -- writer side (event loop) -------------------------------------------------------------------

    def write(self, samples: Samples, now: float = 0.0) -> None:
        """Queue speaker samples (`now`: the writer's clock, for the adaptive start); what does not fit is
        refused and counted, never blocking."""
        if self._arrived_at is None or self.ring.available == 0:
            self._arrived_at = now
        room = self.ring.free
        if len(samples) > room:
            self.rejected_frames += len(samples) - room
            samples = samples[:room]
        if len(samples):
            self.ring.write(samples)

    def flush(self, announce: bool = True) -> None:
        """Drop everything queued so far; the reader fades out and goes silent in its next period.

        `announce=False` (a device reopened after a loss) keeps it from being reported as a barge-in flush.
        """
        self._announce_flush = announce
        self._arrived_at = None  # the next turn's wait starts with its own first audio
        self._flush_mark = self.ring.written

    def end_of_turn(self) -> None:
        """The turn is complete: play out the tail without waiting for the prebuffer."""
        self._turn_end_mark = self.ring.written

    @property
    def queued_frames(self) -> int:
        """Frames written and not yet played (an estimate when read from the writer's side)."""
        return self.ring.available

    @property
    def playing(self) -> bool:
        """True while a turn is being played."""
        return self.started

    # -- reader side (output callback) --------------------------------------------------------------

    def render(self, out: Samples, now: float = 0.0) -> int:
        """Fill `out` with the next period (`now`: the reader's clock, the same as the writer's); returns how
        many frames came from the queue (the rest is silence)."""
        flush_mark = self._flush_mark
        if flush_mark != NO_MARK:
            self._flush_mark = NO_MARK
            return self._render_flush(out, flush_mark)
        ring = self.ring
        queued = ring.written - ring.consumed
        turn_complete = self._turn_end_mark > ring.consumed
        if not self.started:
            if queued == 0 or not (turn_complete or queued >= self.prebuffer_frames or self._waited(now)):
                out[:] = 0
                return 0
            self.started = True
        played = ring.read_into(out)
        if played < len(out):
            out[played:] = 0
            if self._turn_end_mark < ring.written:
                self.underruns += 1
                self._grow()
            self.started = False
        elif self.start_delay_s is not None:
            self._settle(played, self.start_delay_s)
        return played

    def _waited(self, now: float) -> bool:
        arrived = self._arrived_at
        return self.start_delay_s is not None and arrived is not None and now - arrived >= self.delay_s

    def _grow(self) -> None:
        if self.start_delay_s is not None:
            self.delay_s = min(self.max_delay_s, self.delay_s + self.step_s)
        self._clean_frames = 0

    def _settle(self, played: int, start_delay_s: float) -> None:
        self._clean_frames += played
        if self._clean_frames >= self.decay_frames:
            self._clean_frames = 0
            self.delay_s = max(start_delay_s, self.delay_s - self.step_s)

    def _render_flush(self, out: Samples, flush_mark: int) -> int:
        ring = self.ring
        fade = min(self.fade_frames, len(out), flush_mark - ring.consumed) if self.started else 0
        played = 0
        if fade > 0:
            played = ring.read_into(out, limit=fade)
            scratch = self._scratch[:played]
            np.multiply(out[:played], self._ramp[:played], out=scratch)
            out[:played] = scratch
        out[played:] = 0
        ring.skip_to(flush_mark)
        self.started = False
        self.flush_served = self._announce_flush
        return played
