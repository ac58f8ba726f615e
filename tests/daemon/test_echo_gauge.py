"""`runtime_echo_erle_db`: the real WebRTC canceller fed a speaker's signal and a microphone that hears it.

The microphone and the speaker are fakes behind `runtime.audio`'s own protocols (`AudioIn`, `FarEnd`): they
hand over arrays instead of sound-card blocks. Everything between them and the scraped page is the real code:
`EchoHandledIn`, `CancelThenGate` around livekit's AEC3, the ERLE meter, the daemon's collector, and
prometheus-client's exposition and parser.
"""

from __future__ import annotations

import anyio
import numpy as np
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from runtime.audio.echo import EchoHandledIn, livekit_available, make_processor
from runtime.daemon.metrics import MetricsRecorder, build_registry

pytestmark = pytest.mark.skipif(not livekit_available(), reason="livekit ([aec] extra) not installed")

RATE = 16_000
BLOCK = 320
RNG = np.random.default_rng(17)


def babble(frames: int, level: float = 6000.0) -> np.ndarray:
    """Speech-like noise: band-limited and amplitude-modulated at syllable rate."""
    noise = np.convolve(RNG.standard_normal(frames), np.ones(4) / 4, mode="same")
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(frames) / RATE)
    return np.clip(level * noise * envelope, -32767, 32767).astype(np.int16)


def delayed(signal: np.ndarray, frames: int, gain: float) -> np.ndarray:
    return (gain * np.concatenate((np.zeros(frames), signal[:-frames].astype(np.float64)))).astype(np.int16)


class ArrayMic:
    """An `AudioIn` that reads consecutive blocks of an array."""

    def __init__(self, samples: np.ndarray, latency_s: float = 0.02) -> None:
        self.block_frames = BLOCK
        self.latency_s = latency_s
        self.samples = samples
        self.position = 0

    async def open(self) -> None:
        pass

    async def read(self) -> bytes:
        block = self.samples[self.position : self.position + BLOCK]
        self.position += BLOCK
        return block.astype("<i2").tobytes()

    async def close(self) -> None:
        pass


class ArraySpeaker:
    """A `FarEnd` whose played samples are the next block of an array, one block per microphone read."""

    rate_hz = RATE

    def __init__(self, samples: np.ndarray, latency_s: float = 0.04) -> None:
        self.latency_s = latency_s
        self.samples = samples
        self.position = 0
        self.owed = 0

    def read_played(self, out: np.ndarray) -> int:
        count = min(self.owed, len(out))
        out[:count] = self.samples[self.position : self.position + count]
        self.position += count
        self.owed -= count
        return count


async def play(mic: EchoHandledIn, speaker: ArraySpeaker, seconds: float) -> None:
    for _ in range(int(seconds * RATE) // BLOCK):
        speaker.owed += BLOCK
        await mic.read()


def echo_cancelled(far: np.ndarray, near: np.ndarray) -> tuple[EchoHandledIn, ArraySpeaker]:
    speaker = ArraySpeaker(far)
    processor = make_processor("cancel", block_frames=BLOCK, delay_ms=60)
    assert processor is not None
    return EchoHandledIn(ArrayMic(near), speaker, processor), speaker


def erle_samples(microphones: dict[str, object]) -> dict[str, float]:
    registry = build_registry(MetricsRecorder(), dict, lambda: microphones)
    page = generate_latest(registry).decode()
    (family,) = [f for f in text_string_to_metric_families(page) if f.name == "runtime_echo_erle_db"]
    assert family.type == "gauge"
    return {sample.labels["agent"]: sample.value for sample in family.samples}


def test_the_gauge_shows_how_much_echo_the_canceller_removes_and_nothing_where_none_runs() -> None:
    seconds = 6
    far = np.concatenate((np.zeros(RATE, np.int16), babble(RATE * seconds)))
    room_noise = babble(len(far), level=30)
    # The kitchen's microphone hears the speaker 60 ms late at -8 dB; the hall's hears only unrelated noise
    # while its speaker plays (a distant speaker: nothing for a canceller to remove); the porch has no canceller.
    kitchen, kitchen_speaker = echo_cancelled(far, delayed(far, 960, 0.4) + room_noise)
    hall, hall_speaker = echo_cancelled(far, babble(len(far), level=200))
    porch = ArrayMic(np.zeros_like(far))
    microphones: dict[str, object] = {"kitchen": kitchen, "hall": hall, "porch": porch}

    async def first_second() -> None:
        await play(kitchen, kitchen_speaker, 1.0)
        await play(hall, hall_speaker, 1.0)

    anyio.run(first_second)
    assert erle_samples(microphones) == {}, "the speaker has not played yet: no echo measured anywhere"

    async def the_rest() -> None:
        await play(kitchen, kitchen_speaker, seconds - 0.1)
        await play(hall, hall_speaker, seconds - 0.1)

    anyio.run(the_rest)
    samples = erle_samples(microphones)
    print(f"ERLE: kitchen {samples['kitchen']:.1f} dB, hall {samples['hall']:.1f} dB")
    assert set(samples) == {"kitchen", "hall"}, "the porch has no echo canceller: no sample"
    assert 15 < samples["kitchen"] < 80, "AEC3 removes well over 15 dB of a clean linear echo"
    # AEC3's suppressor still dims unrelated sound a little while the speaker plays (7 dB here), far less
    # than an echo it can model.
    assert samples["hall"] < samples["kitchen"] - 10, "the figure follows the echo, it is not a constant"
