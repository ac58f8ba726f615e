"""The echo handling on a recorded room: a deterministic capture replayed through the real `EchoHandledIn` path.

The capture is synthesized from fixed seeds and written as WAV files, as a rig recording would be: what the
speaker played (the model's voice, 24 kHz) and what the microphone heard (16 kHz) — that voice through a
room (direct path 60 ms later at -10 dB, reflections decaying over 150 ms), a noise floor, and the user
talking over the model's last 1.5 s. Replayed through `EchoHandledIn` with the processor `audio.echo` makes
(WebRTC AEC3 behind its guard, or the double-talk gate), the far end released in step with the microphone
blocks as the speaker's callback releases it, nothing depends on timing, so load cannot change the result.
The echo removed (ERLE) is therefore asserted here; on the live rig (tests/audio/test_echo_rig.py) it is
only reported. (Not bit for bit: soxr dithers its int16 output with a seed taken from the clock —
libsoxr `soxr_create`: `p->seed = time(0) ^ (size_t)p` — so two replays differ by an LSB here and there and
their ERLE by about 0.2 dB.)
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from runtime.audio.echo import CancelThenGate, EchoHandledIn, livekit_available, make_processor
from runtime.audio.files import read_wav_pcm16
from runtime.audio.ring import Samples

pytestmark = pytest.mark.anyio
MIC_HZ, SPEAKER_HZ, BLOCK = 16_000, 24_000, 320
SECONDS = 8
ECHO_ONLY = slice(150, 300)
"""Blocks 3-6 s: the model talks alone; AEC3 has had 3 s to converge."""
DOUBLE_TALK = slice(305, 370)
"""Blocks 6.1-7.4 s: the user talks over the model."""
ERLE_FLOOR_DB = 30.0
"""What the canceller must remove from the replayed room (it removes about 48 dB; docs/audio.md has the rig's)."""


def babble(seed: int, seconds: float, rate_hz: int, level: float) -> np.ndarray:
    """Speech-like sound: band-limited noise, amplitude-modulated at syllable rate, with pauses between phrases."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * rate_hz)
    noise = np.convolve(rng.standard_normal(frames), np.hanning(9) / np.hanning(9).sum() * 3, mode="same")
    t = np.arange(frames) / rate_hz
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.3 * t + rng.uniform(0, 6.28))
    phrases = (np.sin(2 * np.pi * 0.4 * t + seed) > -0.8).astype(np.float64)
    return np.asarray(level * noise * syllables * phrases, dtype=np.float64)


def room_response() -> np.ndarray:
    """Direct path after 60 ms at -10 dB, then reflections decaying over about 150 ms (16 kHz)."""
    rng = np.random.default_rng(11)
    response = np.zeros(int(0.25 * MIC_HZ))
    direct = int(0.060 * MIC_HZ)
    response[direct] = 10 ** (-10 / 20)
    tail = np.arange(len(response) - direct - 16)
    response[direct + 16 :] = 0.08 * rng.standard_normal(len(tail)) * np.exp(-tail / (0.035 * MIC_HZ))
    return response


def write_wav(path: Path, samples: np.ndarray, rate_hz: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(np.clip(samples, -32767, 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(speaker.wav, microphone.wav) of the synthetic room, written once for the module."""
    import soxr

    folder = tmp_path_factory.mktemp("room")
    played = babble(1, SECONDS, SPEAKER_HZ, level=5000)
    heard = np.convolve(soxr.resample(played, SPEAKER_HZ, MIC_HZ), room_response())[: SECONDS * MIC_HZ]
    heard += np.random.default_rng(3).standard_normal(len(heard)) * 20  # the room's noise floor
    user = babble(2, 1.5, MIC_HZ, level=9000)
    heard[6 * MIC_HZ : 6 * MIC_HZ + len(user)] += user
    write_wav(folder / "speaker.wav", played, SPEAKER_HZ)
    write_wav(folder / "microphone.wav", heard, MIC_HZ)
    return folder / "speaker.wav", folder / "microphone.wav"


class Replay:
    """The capture as ports: a microphone (`AudioIn`) and the speaker's played audio (`FarEnd`), in step.

    Each microphone block releases the next 20 ms the speaker played, as an output callback running beside
    the input callback would; latencies are those the rig's streams report, so the delay hint is 60 ms.
    """

    block_frames = BLOCK
    latency_s = 0.02

    def __init__(self, speaker_wav: Path, microphone_wav: Path) -> None:
        self.played = np.frombuffer(read_wav_pcm16(speaker_wav, SPEAKER_HZ), dtype="<i2")
        self.heard = np.frombuffer(read_wav_pcm16(microphone_wav, MIC_HZ), dtype="<i2")
        self.blocks_read = 0
        self.released = 0

    async def open(self) -> None:
        pass

    async def read(self) -> bytes:
        start = self.blocks_read * BLOCK
        self.blocks_read += 1
        return self.heard[start : start + BLOCK].tobytes()

    async def close(self) -> None:
        pass

    def read_played(self, out: Samples) -> int:
        due = min(self.blocks_read * SPEAKER_HZ // 50, len(self.played))
        count = min(due - self.released, len(out))
        out[:count] = self.played[self.released : self.released + count]
        self.released += count
        return count


class ReplaySpeaker:
    """The far-end half of `Replay` with the speaker's own latency (output 40 ms)."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.rate_hz = SPEAKER_HZ
        self.latency_s = 0.04

    def read_played(self, out: Samples) -> int:
        return self.replay.read_played(out)


def power(samples: np.ndarray) -> float:
    x = samples.astype(np.float64)
    return float(np.mean(x * x))


def db(ratio: float) -> float:
    return float(10 * np.log10(max(ratio, 1e-12)))


async def replay(capture: tuple[Path, Path], mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """(microphone, echo handled, canceller alone or None, delay hint ms), block by block."""
    room = Replay(*capture)
    processor = make_processor(mode, block_frames=BLOCK, delay_ms=0)  # type: ignore[arg-type]
    assert processor is not None
    tap: list[Samples] = []
    if isinstance(processor, CancelThenGate):
        processor.tap = tap
    mic = EchoHandledIn(room, ReplaySpeaker(room), processor)
    await mic.open()
    out = [np.frombuffer(await mic.read(), dtype="<i2") for _ in range(SECONDS * 50)]
    await mic.close()
    blocks = room.heard[: SECONDS * MIC_HZ].reshape(-1, BLOCK)
    return blocks, np.array(out), (np.array(tap) if tap else None), mic.delay_ms()


needs_aec = pytest.mark.skipif(not livekit_available(), reason="livekit ([aec] extra) not installed")


@needs_aec
async def test_the_canceller_removes_the_echo_of_a_replayed_room_and_lets_the_user_through(
    capture: tuple[Path, Path],
) -> None:
    heard, handled, cancelled, delay_ms = await replay(capture, "cancel")
    assert cancelled is not None and len(cancelled) == len(heard), "the canceller processed every block"
    erle_db = db(power(heard[ECHO_ONLY]) / max(power(handled[ECHO_ONLY]), 1e-3))
    canceller_db = db(power(heard[ECHO_ONLY]) / max(power(cancelled[ECHO_ONLY]), 1e-3))
    user_kept_db = db(power(handled[DOUBLE_TALK]) / power(heard[DOUBLE_TALK]))
    print(
        f"replayed room: echo {db(power(heard[ECHO_ONLY]) / 32767**2):.1f} dBFS, canceller alone removes"
        f" {canceller_db:.1f} dB, with its guard {erle_db:.1f} dB; user's voice kept at {user_kept_db:.1f} dB;"
        f" delay hint {delay_ms} ms"
    )
    assert delay_ms == 60
    assert canceller_db >= ERLE_FLOOR_DB
    assert erle_db >= ERLE_FLOOR_DB
    assert user_kept_db > -10, "a user talking over the model still reaches it (barge-in)"


@needs_aec
async def test_two_replays_measure_the_same_erle(capture: tuple[Path, Path]) -> None:
    """What the ERLE test measures is a property of the capture: only soxr's dither differs between replays."""
    erle = []
    for _ in range(2):
        heard, handled, _, _ = await replay(capture, "cancel")
        erle.append(db(power(heard[ECHO_ONLY]) / max(power(handled[ECHO_ONLY]), 1e-3)))
    print(f"replayed room, twice: ERLE {erle[0]:.2f} dB and {erle[1]:.2f} dB")
    assert abs(erle[0] - erle[1]) < 1.0


async def test_half_duplex_silences_the_replayed_echo_and_lets_the_user_through(capture: tuple[Path, Path]) -> None:
    heard, handled, _, _ = await replay(capture, "half_duplex")
    gated = np.mean([not block.any() for block in handled[ECHO_ONLY]])
    user_kept_db = db(power(handled[DOUBLE_TALK]) / power(heard[DOUBLE_TALK]))
    print(f"replayed room, half duplex: {gated:.0%} of echo-only blocks silenced, user kept at {user_kept_db:.1f} dB")
    assert gated == 1.0
    assert user_kept_db > -6
