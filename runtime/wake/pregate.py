"""An energy pre-gate: in a silent room the wake-word detector does not run, and loses nothing by it.

An idle `wake_word` agent spends most of its CPU in the detector (`python -m bench.idle`). While every
block is below a level no speech reaches at the microphone (`open_dbfs`, default -60 dBFS: speech at a
few metres is -45 to -20 dBFS), there is nothing for it to find. `EnergyPreGate` decides per block:

- **running** (the start, and whenever the room is not silent): every block goes to the detector. After
  `hang_s` of audio with every block below `close_dbfs` (a few dB under `open_dbfs`: hysteresis, so a
  level hovering at the floor does not flap), it stops feeding the detector.
- **skipping**: blocks only go into a ring of the last `preroll_s` of audio. The first block at or above
  `open_dbfs` resumes the detector: the caller resets it (its streaming state ends before the gap, and
  joining it to later audio would be joining unrelated sound) and feeds it the ring and that block as one
  stretch, so the word's onset, and the quiet second before it that a fresh detector needs to settle, are
  heard exactly as if it had been running.

Nothing here reads a clock: time is audio frames, as everywhere in the wake code.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from runtime.audio.ports import MIC_RATE_HZ, SAMPLE_BYTES

DEFAULT_OPEN_DBFS = -60.0
DEFAULT_CLOSE_DBFS = -64.0


@dataclass(frozen=True)
class Admitted:
    """What the detector gets for one block."""

    audio: bytes
    """Audio to feed now (empty while skipping)."""
    resumed: bool = False
    """The detector was skipping: reset it before feeding `audio` (the pre-roll and the block)."""


class EnergyPreGate:
    """Per block: feed the detector, skip it (silent room), or resume it with the pre-roll."""

    def __init__(
        self,
        open_dbfs: float = DEFAULT_OPEN_DBFS,
        close_dbfs: float = DEFAULT_CLOSE_DBFS,
        hang_s: float = 1.0,
        preroll_s: float = 1.0,
    ) -> None:
        if close_dbfs > open_dbfs:
            raise ValueError("close_dbfs must not be above open_dbfs")
        self.open_dbfs = open_dbfs
        self.close_dbfs = close_dbfs
        self._hang_frames = round(hang_s * MIC_RATE_HZ)
        self._preroll_bytes = round(preroll_s * MIC_RATE_HZ) * SAMPLE_BYTES
        self._ring: deque[bytes] = deque()
        self._ring_bytes = 0
        self._quiet_frames = 0
        self.skipping = False
        self.skipped_frames = 0
        """Audio the detector did not hear (for tests and measurements)."""
        self.resumes = 0

    def admit(self, pcm: bytes, level_dbfs: float) -> Admitted:
        """The block `pcm` (its RMS level `level_dbfs`): what to feed the detector for it."""
        self._remember(pcm)
        frames = len(pcm) // SAMPLE_BYTES
        if self.skipping:
            if level_dbfs < self.open_dbfs:
                self.skipped_frames += frames
                return Admitted(b"")
            self.skipping = False
            self._quiet_frames = 0
            self.resumes += 1
            return Admitted(b"".join(self._ring), resumed=True)
        self._quiet_frames = self._quiet_frames + frames if level_dbfs < self.close_dbfs else 0
        self.skipping = self._quiet_frames >= self._hang_frames
        return Admitted(pcm)

    def reset(self) -> None:
        """Start again, running (the detector was reset: it has heard nothing yet)."""
        self._ring.clear()
        self._ring_bytes = 0
        self._quiet_frames = 0
        self.skipping = False

    def _remember(self, pcm: bytes) -> None:
        self._ring.append(pcm)
        self._ring_bytes += len(pcm)
        while self._ring and self._ring_bytes - len(self._ring[0]) >= self._preroll_bytes:
            self._ring_bytes -= len(self._ring.popleft())
