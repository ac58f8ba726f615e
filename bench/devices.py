"""Sound cards in software for the baselines: a clocked callback thread behind PyAudio-style blocking calls.

A real PortAudio stream runs a callback every period on its own thread; PyAudio's blocking `read`/`write`
wait on the buffer that callback fills or drains. These classes do the same with a thread on an absolute
20 ms schedule, and report the two instants the bench needs from the callback itself: when a microphone
block became ready, and when speaker samples were handed over (or silence played).
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from bench.analysis import DeviceLog
from bench.markers import MARKER_SAMPLES, MAX_INDEX, TONE_HZ, marker, numbered_blocks

MIC_RATE_HZ, SPEAKER_RATE_HZ = 16_000, 24_000
PERIOD_S = 0.020
SPEAKER_PERIOD_S = PERIOD_S * 1.001
"""The speaker's clock runs 0.1 % slow, as a separate speaker drifts from the microphone: the phase between
a microphone block (which triggers a barge-in) and the next speaker callback then sweeps over the run
instead of staying wherever the two streams happened to start, so interrupt-to-silence is not one phase."""


class DeviceClock:
    """Calls `tick()` every `period_s` on an absolute schedule (no drift) until stopped."""

    def __init__(self, tick: Callable[[], None], period_s: float = PERIOD_S, name: str = "device") -> None:
        self._tick, self._period_s = tick, period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += self._period_s
            delay = deadline - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            self._tick()


@dataclass
class MicScript:
    """What the simulated microphone captures: numbered blocks, loud (speech) between given block indices."""

    speech: list[tuple[int, int]] = field(default_factory=list)
    """[first, end) block ranges where the user "speaks" (a loud tone)."""
    amplitude: int = 6000

    _templates: dict[tuple[int, int, int], bytes] = field(default_factory=dict, repr=False)

    def block(self, index: int, block_frames: int) -> bytes:
        """`numbered_blocks(index, 1, ...)` as bytes, from a cache: a sound card delivers samples without
        computing a sine per block, and this runs in every client's process, so the bench should not charge
        them for it (a numpy sine per 20 ms block was about a fifth of a streaming agent's measured CPU)."""
        loud = any(first <= index < end for first, end in self.speech)
        amplitude = self.amplitude if loud else 0
        period = _tone_period_blocks(block_frames) if amplitude else 1
        key = (index % period, amplitude, block_frames)
        template = self._templates.get(key)
        if template is None:
            template = numbered_blocks(key[0], 1, block_frames, MIC_RATE_HZ, amplitude).tobytes()
            self._templates[key] = template
        return struct.pack("<5h", *marker(index % MAX_INDEX)) + template[MARKER_SAMPLES * 2 :]


def _tone_period_blocks(block_frames: int) -> int:
    """After how many blocks the speech tone's phase repeats (`TONE_HZ` · frames / rate is a whole number of
    cycles), so that block `index` has the samples of block `index % period` but for its marker."""
    cycles = Fraction(int(TONE_HZ) * block_frames, MIC_RATE_HZ)
    return cycles.denominator


class BlockingMic:
    """PyAudio-like input stream: a 20 ms capture callback fills a buffer; `read(frames)` blocks on it."""

    def __init__(self, script: MicScript, log: DeviceLog, block_frames: int = 320) -> None:
        self.script, self.block_frames, self.log = script, block_frames, log
        self._buffer = bytearray()
        self._cond = threading.Condition()
        self._next = 0
        self._stopped = False
        self._clock = DeviceClock(self._capture, name="bench-mic")

    def start(self) -> None:
        self._clock.start()

    def stop(self) -> None:
        self._clock.stop()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _capture(self) -> None:
        block = self.script.block(self._next, self.block_frames)
        with self._cond:
            self.log.mic_ready[self._next] = time.monotonic()
            self._buffer += block
            self._next += 1
            self._cond.notify_all()

    def read(self, frames: int, timeout_s: float = 5.0) -> bytes:
        """Blocks until `frames` frames are captured, like `pyaudio.Stream.read`."""
        wanted = frames * 2
        with self._cond:
            self._cond.wait_for(lambda: len(self._buffer) >= wanted or self._stopped, timeout=timeout_s)
            if len(self._buffer) < wanted:
                raise EOFError("simulated microphone stopped")
            chunk = bytes(self._buffer[:wanted])
            del self._buffer[:wanted]
        return chunk


class SpeakerMeter:
    """Called from inside a speaker callback: logs the audio handed over and every silence that follows audio.

    It records what the speaker did, never what the client says about its turns: whether a silence was an
    underrun is decided afterwards, from what was played around it (`bench.silences`), the same way for
    every client."""

    def __init__(self, log: DeviceLog, period_frames: int) -> None:
        self.log, self.period_frames = log, period_frames
        self._offset = 0
        self._was_audible = False
        self._short_at: float | None = None

    def on_callback(self, audio: bytes, now: float, flushed: bool) -> None:
        """`audio` came from the queue (the rest of the period is silence); `flushed`: a barge-in cut it."""
        frames = len(audio) // 2
        if frames and not flushed:
            if self._short_at is not None:
                self.log.silences.append((self._offset, self._short_at, now))
                self._short_at = None
            self.log.played.append((self._offset, len(audio), now))
            self.log.played_pcm += audio
            self._offset += len(audio)
        if (flushed or not frames) and self._was_audible:
            self.log.silence_after_audio.append(now)
        short = flushed or frames < self.period_frames
        if short and self._short_at is None and (frames or self._was_audible):
            self._short_at = now
        self._was_audible = bool(frames) and not flushed


class BlockingSpeaker:
    """PyAudio-like output stream: `write` blocks while the device buffer is full; a 20 ms callback drains it."""

    def __init__(self, log: DeviceLog, buffer_frames: int = 2048, period_frames: int = 480) -> None:
        self.log = log
        self._meter = SpeakerMeter(log, period_frames)
        self._capacity = buffer_frames * 2
        self._period_bytes = period_frames * 2
        self._buffer = bytearray()
        self._cond = threading.Condition()
        self._stopped = False
        self._clock = DeviceClock(self._play, period_s=SPEAKER_PERIOD_S, name="bench-speaker")

    def start(self) -> None:
        self._clock.start()

    def stop(self) -> None:
        self._clock.stop()
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def write(self, pcm: bytes) -> None:
        """Blocks until all of `pcm` is in the device buffer, like `pyaudio.Stream.write`."""
        view = memoryview(pcm)
        with self._cond:
            while view and not self._stopped:
                self._cond.wait_for(lambda: len(self._buffer) < self._capacity or self._stopped)
                room = self._capacity - len(self._buffer)
                self._buffer += view[:room]
                view = view[room:]

    def _play(self) -> None:
        with self._cond:
            chunk = bytes(self._buffer[: self._period_bytes])
            del self._buffer[: self._period_bytes]
            self._cond.notify_all()
        self._meter.on_callback(chunk, time.monotonic(), False)
