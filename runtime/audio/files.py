"""WAV-file and null audio ports: run an agent without a sound card (tests, demos, `runtime chat`).

`WavFileIn` plays a WAV file as the microphone at real-time pace, then silence. Its frames are never
altered by echo handling: a file is what the user said, exactly.

`WavFileOut` writes what a speaker would have played. It keeps a real-time play clock: audio queued with
`write` "plays" at 24 kHz from the moment it arrives, `flush` (barge-in) discards the part not yet played,
and a gap in the middle of a turn (the queue ran dry before the turn ended) is written as silence and
counted as an underrun, so the file sounds like the speaker would. Silence between turns is not written.
`close` writes what is still queued, as if the speaker played it out. `prebuffer_ms` makes it wait for that
much audio before playing (again), like a device's jitter buffer.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import anyio
import numpy as np

from runtime.audio.ports import MIC_RATE_HZ, SAMPLE_BYTES, SPEAKER_RATE_HZ
from runtime.errors import DeviceError

FILE_PREFIX = "file:"
GAP_TOLERANCE_S = 0.005
"""A queue that ran dry for less than this is not an underrun (scheduling noise)."""


def read_wav_pcm16(path: Path, rate_hz: int) -> bytes:
    """A WAV file as mono int16 little-endian PCM at `rate_hz` (down-mixed and resampled when needed)."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, source_rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise DeviceError(f"cannot read WAV file {path}: {exc}") from exc
    if width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise DeviceError(f"{path}: {width * 8}-bit WAV files are not supported; use 16-bit PCM")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    if width == 2 and channels == 1 and source_rate == rate_hz:
        return raw
    if source_rate != rate_hz:
        import soxr

        samples = soxr.resample(samples, source_rate, rate_hz)
    return bytes((np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes())


class WavFileIn:
    """A WAV file as the microphone: blocks at real-time pace, then silence forever."""

    def __init__(self, path: Path, block_frames: int = 320) -> None:
        self.path = path
        self.block_frames = block_frames
        self._pcm = b""
        self._offset = 0
        self._blocks_read = 0
        self._started_at: float | None = None
        self._open = False
        self.finished = anyio.Event()
        """Set once the last block holding file audio has been read."""

    @property
    def started_at(self) -> float | None:
        """`time.monotonic()` when the file started "playing" into the microphone (at `open`)."""
        return self._started_at

    @property
    def block_bytes(self) -> int:
        return self.block_frames * SAMPLE_BYTES

    @property
    def file_pcm(self) -> bytes:
        """The file's audio as sent: padded with silence to a whole number of blocks."""
        remainder = len(self._pcm) % self.block_bytes
        return self._pcm + bytes(self.block_bytes - remainder if remainder else 0)

    async def open(self) -> None:
        self._pcm = await anyio.to_thread.run_sync(read_wav_pcm16, self.path, MIC_RATE_HZ)
        self._offset = 0
        self._blocks_read = 0
        self._started_at = time.monotonic()
        self._open = True

    async def read(self) -> bytes:
        if not self._open or self._started_at is None:
            raise DeviceError(f"microphone file {self.path} is not open")
        # Like a real microphone, a block is there once its last frame has been "captured".
        due = self._started_at + (self._blocks_read + 1) * self.block_frames / MIC_RATE_HZ
        delay = due - time.monotonic()
        if delay > 0:
            await anyio.sleep(delay)
        self._blocks_read += 1
        block = self._pcm[self._offset : self._offset + self.block_bytes]
        self._offset += len(block)
        if block and self._offset >= len(self._pcm):
            self.finished.set()
        return block + bytes(self.block_bytes - len(block))

    def ready_frames(self) -> int:
        """Frames "captured" and not read yet (the file plays at real-time pace from `open`)."""
        if not self._open or self._started_at is None:
            return 0
        captured = int((time.monotonic() - self._started_at) * MIC_RATE_HZ)
        return max(0, captured - self._blocks_read * self.block_frames)

    async def close(self) -> None:
        self._open = False


class NullIn:
    """No microphone: `read` waits forever, so nothing is streamed (text-only chat costs no audio tokens)."""

    block_frames = 320

    async def open(self) -> None:
        pass

    async def read(self) -> bytes:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


class WavFileOut:
    """A speaker that writes a 24 kHz mono WAV file of what it would have played (see the module doc)."""

    def __init__(self, path: Path, prebuffer_ms: float = 0.0) -> None:
        self.path = path
        self.prebuffer_bytes = int(prebuffer_ms * SPEAKER_RATE_HZ / 1000) * SAMPLE_BYTES
        """Audio queued before playback (re)starts, like a device's jitter buffer (`audio.output.buffer_ms`)."""
        self._wav: wave.Wave_write | None = None
        self._pending = bytearray()
        self._running = False
        self._clock_at = 0.0
        self._ran_dry_at: float | None = None
        self._in_turn = False
        self.gaps_s: list[float] = []
        """Durations of the mid-turn gaps (underruns), in order: what a listener would hear as a pause."""
        self.flushes: list[float] = []
        """`time.monotonic()` of every flush (barge-in)."""
        self.bytes_written = 0

    async def open(self) -> None:
        try:
            wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - stays open until close()
        except OSError as exc:
            raise DeviceError(f"cannot write WAV file {self.path}: {exc}") from exc
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_BYTES)
        wav.setframerate(SPEAKER_RATE_HZ)
        self._wav = wav

    def write(self, pcm: bytes) -> None:
        now = time.monotonic()
        self._advance(now)
        if not self._in_turn:
            self._ran_dry_at = None  # a new turn: the pause before it is not an underrun
        self._pending += pcm
        if not self._running and len(self._pending) >= max(self.prebuffer_bytes, 1):
            self._start(now)
        self._in_turn = True

    def flush(self) -> None:
        now = time.monotonic()
        self._advance(now)
        self._pending.clear()
        self._running = False
        self._in_turn = False
        self._ran_dry_at = None
        self.flushes.append(now)

    def end_of_turn(self) -> None:
        now = time.monotonic()
        self._advance(now)
        if self._pending and not self._running:
            self._start(now)
        self._in_turn = False

    @property
    def playing(self) -> bool:
        self._advance(time.monotonic())
        return bool(self._pending)

    @property
    def underruns(self) -> int:
        return len(self.gaps_s)

    async def close(self) -> None:
        if self._wav is None:
            return
        self._emit(bytes(self._pending))
        self._pending.clear()
        self._wav.close()
        self._wav = None

    def _start(self, now: float) -> None:
        """Playback (re)starts; a restart in the middle of a turn ends an underrun, written as silence."""
        if self._in_turn and self._ran_dry_at is not None:
            gap_s = now - self._ran_dry_at
            if gap_s > GAP_TOLERANCE_S:
                self.gaps_s.append(gap_s)
                self._emit(bytes(int(gap_s * SPEAKER_RATE_HZ) * SAMPLE_BYTES))
        self._running = True
        self._clock_at = now

    def _advance(self, now: float) -> None:
        """Move what the play clock has reached from the queue into the file."""
        if not self._running:
            return
        playable = int((now - self._clock_at) * SPEAKER_RATE_HZ) * SAMPLE_BYTES
        taken = min(len(self._pending), max(0, playable))
        if taken:
            self._emit(bytes(self._pending[:taken]))
            del self._pending[:taken]
            self._clock_at += taken / (SPEAKER_RATE_HZ * SAMPLE_BYTES)
        if not self._pending:
            self._running = False
            self._ran_dry_at = self._clock_at

    def _emit(self, pcm: bytes) -> None:
        if self._wav is not None and pcm:
            self._wav.writeframes(pcm)
            self.bytes_written += len(pcm)


class NullOut:
    """No speaker: audio is discarded."""

    async def open(self) -> None:
        pass

    def write(self, pcm: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def end_of_turn(self) -> None:
        pass

    @property
    def playing(self) -> bool:
        return False

    @property
    def underruns(self) -> int:
        return 0

    async def close(self) -> None:
        pass


def file_path(device: str | int) -> Path | None:
    """The path of a `file:PATH.wav` device setting, else None."""
    if isinstance(device, str) and device.startswith(FILE_PREFIX):
        return Path(device[len(FILE_PREFIX) :])
    return None
