"""Echo handling, so a model talking through a speaker does not hear itself through the microphone.

`EchoHandledIn` wraps a microphone. On every block it first drains what the speaker's callback actually
played (the far end), converts it to 16 kHz, and then hands far end and microphone block to a processor:

- `cancel`: WebRTC's acoustic echo canceller as `livekit.rtc.AudioProcessingModule` ships it (the `[aec]`
  extra), fed 10 ms frames, with the delay between playing and hearing taken from the stream latencies,
  and guarded against the moments it misses the echo (`CancelThenGate`). The user's own voice passes
  through, so barge-in works while the model talks.
- `half_duplex`: `DoubleTalkGate` replaces microphone blocks with silence while the speaker plays (and a
  short tail), unless the microphone is well above what the playback explains: a loud user still gets in.
- `none`: headsets, or a microphone that is already echo-cancelled (PipeWire/PulseAudio echo-cancel source).

All processing runs on the event loop in `read`, never in an audio callback.
"""

from __future__ import annotations

import collections
import importlib.util
import logging
from typing import Any, Literal, Protocol

import numpy as np

from runtime.audio.erle import ErleMeter
from runtime.audio.ports import MIC_RATE_HZ, AudioIn, AudioObserver
from runtime.audio.ring import Samples

log = logging.getLogger(__name__)

EchoMode = Literal["cancel", "half_duplex", "none"]
FRAME_10MS = MIC_RATE_HZ // 100
MAX_RENDER_BACKLOG = 3
"""Far-end 10 ms frames allowed to wait before the canceller catches up (bounds the added render delay)."""


class FarEnd(Protocol):
    """A speaker that tells what it played (implemented by `SoundDeviceOut`)."""

    rate_hz: int
    latency_s: float

    def read_played(self, out: Samples) -> int:
        """Drain the samples played since the last call (at `rate_hz`)."""
        ...


class EchoProcessor(Protocol):
    """Removes the far end from the microphone (16 kHz mono int16 both)."""

    def add_far_end(self, samples: Samples) -> None:
        """What the speaker played, in playing order."""

    def process(self, near: Samples) -> Samples:
        """The microphone block with the echo removed (same length)."""
        ...


def livekit_available() -> bool:
    """True when the optional `[aec]` extra (livekit) is installed."""
    return importlib.util.find_spec("livekit") is not None and importlib.util.find_spec("livekit.rtc") is not None


def resolve_mode(echo: str) -> EchoMode:
    """`auto` means `cancel` when the AEC extra is installed, else `half_duplex`."""
    if echo == "auto":
        return "cancel" if livekit_available() else "half_duplex"
    if echo == "cancel" and not livekit_available():
        log.warning(
            "audio.echo is `cancel` but livekit is not installed (pip install 'live-agent-runtime[aec]');"
            " using half_duplex"
        )
        return "half_duplex"
    if echo not in ("cancel", "half_duplex", "none"):
        raise ValueError(f"unknown echo mode {echo!r}")
    return echo  # type: ignore[return-value]


class WebRtcCanceller:
    """WebRTC AEC3 through livekit's audio processing module, fed and read in 10 ms frames."""

    def __init__(self, delay_ms: int, block_frames: int) -> None:
        from livekit.rtc import AudioFrame, AudioProcessingModule

        self.delay_ms = delay_ms
        self._apm = AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        self._far_frame = AudioFrame(bytearray(FRAME_10MS * 2), MIC_RATE_HZ, 1, FRAME_10MS)
        self._near_frame = AudioFrame(bytearray(FRAME_10MS * 2), MIC_RATE_HZ, 1, FRAME_10MS)
        self._far_view = np.frombuffer(self._far_frame._data, dtype=np.int16)
        self._near_view = np.frombuffer(self._near_frame._data, dtype=np.int16)
        self._far_pending = np.zeros(0, dtype=np.int16)
        self._near_pending = np.zeros(0, dtype=np.int16)
        # Blocks that are not a whole number of 10 ms frames leave a remainder: start that much behind.
        self._out_pending = np.zeros((-block_frames) % FRAME_10MS, dtype=np.int16)

    def add_far_end(self, samples: Samples) -> None:
        self._far_pending = np.concatenate((self._far_pending, samples))

    def _feed_far_end(self) -> None:
        # AEC3 wants render and capture frames interleaved; the speaker's callback delivers in bursts, so feed
        # one far frame per near frame and catch up only when more than MAX_RENDER_BACKLOG frames wait.
        queued = len(self._far_pending) // FRAME_10MS
        frames = min(queued, 1 + max(0, queued - MAX_RENDER_BACKLOG))
        for index in range(frames):
            self._far_view[:] = self._far_pending[index * FRAME_10MS : (index + 1) * FRAME_10MS]
            self._apm.process_reverse_stream(self._far_frame)
        self._far_pending = self._far_pending[frames * FRAME_10MS :]

    def process(self, near: Samples) -> Samples:
        raw = np.concatenate((self._near_pending, near))
        whole = len(raw) - len(raw) % FRAME_10MS
        cleaned = np.empty(whole, dtype=np.int16)
        for start in range(0, whole, FRAME_10MS):
            self._feed_far_end()
            self._near_view[:] = raw[start : start + FRAME_10MS]
            self._apm.set_stream_delay_ms(self.delay_ms)
            self._apm.process_stream(self._near_frame)
            cleaned[start : start + FRAME_10MS] = self._near_view
        self._near_pending = raw[whole:]
        out = np.concatenate((self._out_pending, cleaned))
        self._out_pending = out[len(near) :]
        return out[: len(near)]


NO_ECHO_FORGET_DB_PER_S = 40.0
"""How fast the gate forgets the echo it assumed when the speaker plays and the microphone stays silent."""
NO_ECHO_AFTER_MS = 160
"""Speaker playing this long with a silent microphone means no echo path (longer than any echo delay)."""


def _rms(samples: Samples) -> float:
    if not len(samples):
        return 0.0
    x = samples.astype(np.float32)
    return float(np.sqrt(np.mean(x * x)))


class DoubleTalkGate:
    """Half duplex: silence the microphone while the speaker plays, unless the user is clearly talking over it.

    The gate learns how loud the echo is relative to the far end (`coupling`, from blocks where only the
    speaker is heard) and opens when the microphone is `margin_db` above that, and above `speech_rms`.
    It opens after `onset_ms` of such blocks (a lone loud block is more likely a burst of residual echo than
    a word), then holds for `hold_ms` so words are not chopped. Pure arithmetic on blocks: no clock.
    """

    def __init__(
        self,
        block_ms: int = 20,
        *,
        tail_ms: int = 300,
        history_ms: int = 400,
        hold_ms: int = 400,
        margin_db: float = 6.0,
        far_floor_rms: float = 50.0,
        speech_rms: float = 300.0,
        forget_db_per_s: float = 2.2,
        onset_ms: int = 40,
    ) -> None:
        self.block_ms = block_ms
        self._far_levels: collections.deque[float] = collections.deque(maxlen=max(1, history_ms // block_ms))
        self._tail_blocks = max(1, tail_ms // block_ms)
        self._hold_blocks = max(1, hold_ms // block_ms)
        self._onset_blocks = max(1, onset_ms // block_ms)
        self._loud_blocks = 0
        self._margin = 10 ** (margin_db / 20)
        self._far_floor = far_floor_rms
        self._speech_rms = speech_rms
        self._decay = 10 ** (-forget_db_per_s * block_ms / 1000 / 20)
        self._fast_decay = 10 ** (-NO_ECHO_FORGET_DB_PER_S * block_ms / 1000 / 20)
        self._no_echo_blocks = max(1, NO_ECHO_AFTER_MS // block_ms)
        self._silent_while_playing = 0
        self._rise = 0.05 * block_ms / 20
        self.coupling = 0.5
        """Learned echo level relative to the far end (linear amplitude ratio)."""
        self._quiet_blocks = self._tail_blocks
        self._hold = 0
        self._far_block_rms = 0.0
        self.gated_blocks = 0
        """Microphone blocks replaced by silence."""
        self.double_talk_blocks = 0
        """Blocks let through while the speaker played because the user talked over it."""

    def add_far_end(self, samples: Samples) -> None:
        self._far_block_rms = max(self._far_block_rms, _rms(samples))

    @property
    def speaker_heard(self) -> bool:
        """The speaker played within the history window of the last block decided (an echo may be arriving)."""
        return self._quiet_blocks == 0

    def process(self, near: Samples) -> Samples:
        return near if self.decide(near) else np.zeros_like(near)

    def decide(self, near: Samples) -> bool:
        """Whether this microphone block may pass (consumes the far end added since the last block)."""
        self._far_levels.append(self._far_block_rms)
        self._far_block_rms = 0.0
        far = max(self._far_levels)
        self._quiet_blocks = 0 if far > self._far_floor else self._quiet_blocks + 1
        if self._quiet_blocks >= self._tail_blocks:
            self._hold = 0
            return True
        level = _rms(near)
        if level > self._speech_rms and level > self._margin * self.coupling * far:
            self._loud_blocks += 1
            if self._loud_blocks >= self._onset_blocks:
                self._hold = self._hold_blocks
        else:
            self._loud_blocks = 0
            if self._hold == 0:
                self._learn(level / max(far, 1.0), speaker_now=self._far_levels[-1] > self._far_floor)
        if self._hold > 0:
            self._hold -= 1
            self.double_talk_blocks += 1
            return True
        self.gated_blocks += 1
        return False

    def _learn(self, ratio: float, *, speaker_now: bool) -> None:
        # Slow both ways: a user talking just below the margin must not ratchet the estimate up, and the
        # moments before a delayed echo arrives (ratio near 0) must not pull it down (about -2 dB a second).
        # One exception: the speaker has played for NO_ECHO_AFTER_MS while the microphone heard a tenth of the
        # echo assumed or less; then there is no echo path (a headset, a distant speaker) and the estimate drops
        # fast, so a user can interrupt within the model's first second of speech.
        if ratio > self.coupling:
            self.coupling = min(4.0, self.coupling + self._rise * (ratio - self.coupling))
        elif ratio < self.coupling / 10:
            # Blocks where the speaker paused neither prove nor disprove an echo path: they only don't count.
            self._silent_while_playing += 1 if speaker_now else 0
            fast = self._silent_while_playing >= self._no_echo_blocks
            self.coupling = max(0.001, self.coupling * (self._fast_decay if fast else self._decay))
            return
        else:
            self.coupling = max(0.001, self.coupling * self._decay)
        self._silent_while_playing = 0


class EchoHandledIn:
    """A microphone with echo handling in front of it; the far end is what the paired speaker played."""

    def __init__(self, mic: AudioIn, speaker: FarEnd, processor: EchoProcessor) -> None:
        self.mic = mic
        self.speaker = speaker
        self.processor = processor
        self.block_frames = mic.block_frames
        self._played: Samples = np.zeros(1, dtype=np.int16)
        self._resampler: Any = None
        self._resampler_rate = 0

    @property
    def observer(self) -> AudioObserver | None:
        return getattr(self.mic, "observer", None)

    @observer.setter
    def observer(self, value: AudioObserver | None) -> None:
        self.mic.observer = value  # type: ignore[attr-defined]

    async def open(self) -> None:
        await self.mic.open()

    async def read(self) -> bytes:
        block = np.frombuffer(await self.mic.read(), dtype="<i2")
        if isinstance(self.processor, WebRtcCanceller | CancelThenGate):
            self.processor.delay_ms = self.delay_ms()
        self.processor.add_far_end(self._drain_far_end())
        return self.processor.process(block).astype("<i2").tobytes()

    @property
    def erle_db(self) -> float | None:
        """The canceller's live ERLE estimate (dB); None without a canceller or before it has heard echo."""
        meter = getattr(self.processor, "erle", None)
        return meter.erle_db if isinstance(meter, ErleMeter) else None

    def delay_ms(self) -> int:
        """Playing-to-hearing delay the streams report: output latency plus input latency."""
        return round(1000 * (self.speaker.latency_s + float(getattr(self.mic, "latency_s", 0.0))))

    def _drain_far_end(self) -> Samples:
        rate = self.speaker.rate_hz
        if len(self._played) < rate // 5:
            self._played = np.zeros(rate // 5, dtype=np.int16)
        chunks = []
        while (count := self.speaker.read_played(self._played)) > 0:
            chunks.append(self._played[:count].copy())
        far = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        if rate == MIC_RATE_HZ:
            return far
        if self._resampler is None or self._resampler_rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, MIC_RATE_HZ, 1, dtype="int16")
            self._resampler_rate = rate
        converted: Samples = self._resampler.resample_chunk(far)
        return converted

    async def close(self) -> None:
        await self.mic.close()


NEGLIGIBLE_COUPLING = 0.1
"""Echo 20 dB or more below the far end: too quiet for the service's voice detector to take for the user."""


class CancelThenGate:
    """`cancel`: WebRTC AEC, with a guard against the moments it fails.

    AEC3 needs a while to converge, and loses the echo now and then (tonal audio, a changed echo path, a
    starved speaker callback); the echo it then lets through is loud enough for a voice activity detector
    to take the model for the user. So a cancelled block passes only when the canceller removed most of
    the microphone's energy (it works, and what is left is residue or a quiet user) or when the raw
    microphone is clearly louder than the echo explains (the user talks over the model, as in half duplex).
    """

    def __init__(self, canceller: WebRtcCanceller, gate: DoubleTalkGate, removed_db: float = 15.0) -> None:
        self.canceller = canceller
        self.gate = gate
        self._residual_ratio = 10 ** (-removed_db / 20)
        self.tap: list[Samples] | None = None
        """Tests set a list here to keep the canceller's output before the guard."""
        self.erle = ErleMeter(gate.block_ms)
        """The canceller's echo return loss enhancement, over the blocks where only the speaker is heard."""

    @property
    def delay_ms(self) -> int:
        return self.canceller.delay_ms

    @delay_ms.setter
    def delay_ms(self, value: int) -> None:
        self.canceller.delay_ms = value

    def add_far_end(self, samples: Samples) -> None:
        self.canceller.add_far_end(samples)
        self.gate.add_far_end(samples)

    def process(self, near: Samples) -> Samples:
        cancelled = self.canceller.process(near)
        if self.tap is not None:
            self.tap.append(cancelled)
        talking_over = self.gate.decide(near)
        near_rms, cancelled_rms = _rms(near), _rms(cancelled)
        if self.gate.speaker_heard and not talking_over:
            self.erle.add(near_rms * near_rms, cancelled_rms * cancelled_rms)
        removed_most = cancelled_rms <= self._residual_ratio * near_rms
        if talking_over and removed_most and self.gate.coupling <= NEGLIGIBLE_COUPLING:
            # AEC3 suppresses near-end speech while it has seen no echo path (a headset, a distant speaker):
            # when the gate has learned that the microphone hears (almost) nothing of the speaker, the
            # user's own words are the raw block.
            return near
        if talking_over or removed_most:
            return cancelled
        return np.zeros_like(cancelled)


def make_processor(mode: EchoMode, *, block_frames: int, delay_ms: int) -> EchoProcessor | None:
    """The processor for a resolved mode (`none` gives None)."""
    if mode == "cancel":
        block_ms = max(1, block_frames * 1000 // MIC_RATE_HZ)
        return CancelThenGate(WebRtcCanceller(delay_ms, block_frames), DoubleTalkGate(block_ms))
    if mode == "half_duplex":
        return DoubleTalkGate(block_ms=max(1, block_frames * 1000 // MIC_RATE_HZ))
    return None
