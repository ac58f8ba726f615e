"""Echo handling without devices: the double-talk gate's decisions and WebRTC's cancellation on a synthetic room."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.audio.echo import DoubleTalkGate, livekit_available, resolve_mode

BLOCK = 320
RNG = np.random.default_rng(7)


def babble(frames: int, level: float = 6000.0) -> np.ndarray:
    """Speech-like noise: random, band-limited and amplitude-modulated at syllable rate."""
    noise = np.convolve(RNG.standard_normal(frames), np.ones(4) / 4, mode="same")
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * np.arange(frames) / 16_000)
    return np.clip(level * noise * envelope, -32767, 32767).astype(np.int16)


def echo_of(far: np.ndarray, delay_frames: int, gain: float) -> np.ndarray:
    delayed = np.concatenate((np.zeros(delay_frames), far[:-delay_frames].astype(np.float64)))
    return (gain * delayed).astype(np.int16)


def run_gate(gate: DoubleTalkGate, far: np.ndarray, near: np.ndarray) -> np.ndarray:
    out = []
    for start in range(0, len(near) - BLOCK + 1, BLOCK):
        gate.add_far_end(far[start : start + BLOCK])
        out.append(gate.process(near[start : start + BLOCK]))
    return np.concatenate(out)


def test_with_the_speaker_silent_the_gate_passes_everything() -> None:
    near = babble(16_000)
    out = run_gate(DoubleTalkGate(), np.zeros_like(near), near)
    assert np.array_equal(out, near[: len(out)])


def test_echo_alone_is_silenced_while_the_speaker_plays() -> None:
    far = babble(48_000)
    out = run_gate(DoubleTalkGate(), far, echo_of(far, 1600, 0.3))
    assert not out[BLOCK * 10 :].any()


def test_a_user_talking_over_the_speaker_gets_through() -> None:
    far = babble(64_000)
    user = np.zeros(64_000, np.int16)
    user[40_000:56_000] = babble(16_000, level=12_000)
    gate = DoubleTalkGate()
    out = run_gate(gate, far, np.clip(echo_of(far, 1600, 0.3).astype(np.int32) + user, -32767, 32767).astype(np.int16))
    during = out[40_000:56_000].astype(np.float64)
    assert np.sqrt(np.mean(during**2)) > 0.5 * np.sqrt(np.mean(user[40_000:56_000].astype(np.float64) ** 2))
    assert gate.double_talk_blocks > 0
    assert not out[BLOCK * 10 : 38_000].any(), "no false opening before the user talks"


def test_the_gate_keeps_closing_for_a_tail_after_the_speaker_stops() -> None:
    far = np.concatenate((babble(16_000), np.zeros(16_000, np.int16)))
    near = echo_of(far, 1600, 0.3)
    near[16_000 + 1600 :] = 200  # room noise after the echo has died away
    out = run_gate(DoubleTalkGate(tail_ms=300, history_ms=200), far, near)
    assert not out[16_000:23_000].any(), "history (200 ms) plus tail (300 ms) after the last far-end sample"
    assert out[-BLOCK:].all()


def test_auto_picks_cancel_only_when_livekit_is_installed() -> None:
    assert resolve_mode("auto") == ("cancel" if livekit_available() else "half_duplex")
    assert resolve_mode("none") == "none"


@pytest.mark.skipif(not livekit_available(), reason="livekit ([aec] extra) not installed")
def test_webrtc_cancels_a_synthetic_echo_by_20_db_and_keeps_the_users_voice() -> None:
    from runtime.audio.echo import WebRtcCanceller

    seconds = 6
    far = babble(16_000 * seconds)
    user = np.zeros_like(far)
    user[16_000 * 5 :] = babble(16_000, level=3000)
    echo = echo_of(far, 960, 0.4)
    near = np.clip(echo.astype(np.int32) + user, -32767, 32767).astype(np.int16)
    canceller = WebRtcCanceller(delay_ms=60, block_frames=BLOCK)
    out = []
    for start in range(0, len(near), BLOCK):
        canceller.add_far_end(far[start : start + BLOCK])
        out.append(canceller.process(near[start : start + BLOCK]))
    cleaned = np.concatenate(out).astype(np.float64)
    window = slice(16_000 * 3, 16_000 * 5)
    erle_db = 10 * np.log10(np.mean(echo[window].astype(np.float64) ** 2) / max(np.mean(cleaned[window] ** 2), 1e-9))
    kept = np.sqrt(np.mean(cleaned[16_000 * 5 :] ** 2)) / np.sqrt(np.mean(user[16_000 * 5 :].astype(np.float64) ** 2))
    print(f"synthetic room: ERLE {erle_db:.1f} dB, user's voice kept at {20 * np.log10(kept):.1f} dB")
    assert erle_db >= 20
    assert kept > 0.3


def tones(frames: int, level: float = 6000.0) -> np.ndarray:
    """A vowel-like tone per 60 ms, like the emulator's voice: narrowband, hard for an adaptive filter."""
    segment = 960
    out = np.zeros(frames)
    t = np.arange(segment) / 16_000
    for index, start in enumerate(range(0, frames, segment)):
        pitch = 110 + (index * 7 % 26) * 9
        out[start : start + segment] = np.sin(2 * np.pi * pitch * t)[: frames - start]
    return (level * out).astype(np.int16)


@pytest.mark.skipif(not livekit_available(), reason="livekit ([aec] extra) not installed")
def test_cancel_mode_never_lets_the_echo_of_a_tonal_voice_through_but_lets_a_loud_user_in() -> None:
    from runtime.audio.echo import make_processor

    processor = make_processor("cancel", block_frames=BLOCK, delay_ms=60)
    assert processor is not None
    far = tones(16_000 * 8)
    user = np.zeros_like(far)
    user[16_000 * 6 : 16_000 * 7] = babble(16_000, level=9000)
    near = np.clip(echo_of(far, 960, 0.3).astype(np.int32) + user, -32767, 32767).astype(np.int16)
    out = np.concatenate(
        [
            (processor.add_far_end(far[s : s + BLOCK]), processor.process(near[s : s + BLOCK]))[1]
            for s in range(0, len(near), BLOCK)
        ]
    ).astype(np.float64)
    levels = np.sqrt(np.mean(out.reshape(-1, BLOCK) ** 2, axis=1))
    echo_only, with_user = levels[: 6 * 50], levels[6 * 50 + 5 : 7 * 50]
    print(
        f"tonal echo: loudest block let through {echo_only.max():.0f} rms; user blocks passed"
        f" {np.mean(with_user > 300):.0%}"
    )
    assert echo_only.max() < 300, "no block loud enough for a voice activity detector"
    assert np.mean(with_user > 300) > 0.5
