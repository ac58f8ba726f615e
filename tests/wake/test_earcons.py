"""Earcons: built-in sounds are short and click-free; a user's WAV of any rate becomes speaker PCM."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.audio.ports import SPEAKER_RATE_HZ
from runtime.errors import Location, RuntimeConfigError
from runtime.wake.earcons import builtin_earcon, load_earcon
from runtime.wake.gate import wake_gate_for
from runtime.wake.lifecycle import ConversationState
from runtime.wake.mute import MuteSwitch
from tests.wake.scenes import ClockedSpeaker, Scene, WavMic

HERE = Location("agent.yaml")


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(samples.shape[1] if samples.ndim == 2 else 1)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2" if width == 2 else "u1").tobytes())
    return path


@pytest.mark.parametrize("kind", ["start", "end"])
def test_builtin_earcons_are_short_and_start_and_end_in_silence(kind: str) -> None:
    pcm = np.frombuffer(builtin_earcon(kind), "<i2")  # type: ignore[arg-type]
    assert 0.1 < len(pcm) / SPEAKER_RATE_HZ < 0.25
    assert abs(int(pcm[0])) < 300 and abs(int(pcm[-1])) < 300 and np.abs(pcm).max() > 5000
    assert builtin_earcon("start") != builtin_earcon("end")


def test_a_stereo_44k_wav_becomes_24k_mono(tmp_path: Path) -> None:
    t = np.arange(44_100 // 2) / 44_100
    left = 8000 * np.sin(2 * np.pi * 440 * t)
    path = write_wav(tmp_path / "ding.wav", np.stack([left, left], axis=1), 44_100)
    pcm = load_earcon("ding.wav", "start", tmp_path, HERE)
    assert pcm is not None and len(pcm) // 2 == pytest.approx(SPEAKER_RATE_HZ // 2, abs=2)
    assert np.abs(np.frombuffer(pcm, "<i2")).max() == pytest.approx(8000, rel=0.05)
    assert load_earcon(str(path), "start", Path("/elsewhere"), HERE) == pcm


def test_no_earcon_and_bad_files_are_handled(tmp_path: Path) -> None:
    assert load_earcon(None, "end", tmp_path, HERE) is None and load_earcon("", "end", tmp_path, HERE) is None
    with pytest.raises(RuntimeConfigError, match="cannot read earcon"):
        load_earcon("missing.wav", "end", tmp_path, HERE)
    write_wav(tmp_path / "8bit.wav", np.full(100, 128), 8000, width=1)
    with pytest.raises(RuntimeConfigError, match="8-bit"):
        load_earcon("8bit.wav", "end", tmp_path, HERE)


def test_an_agent_file_in_wake_word_mode_builds_its_gate(tmp_path: Path) -> None:
    spec = AgentSpec.model_validate(
        {
            "model": "gemini-3.8-live",
            "activity": {"mode": "wake_word", "wake": {"model": "hey_jarvis", "refractory_s": 3}},
            "conversation": {"idle_timeout_s": 8, "end_earcon": None},
        }
    )
    mic = WavMic(Scene(1.0).write(tmp_path / "mic.wav"))
    gate = wake_gate_for(spec, mic, ClockedSpeaker(mic), MuteSwitch(), tmp_path / "kitchen.yaml", "kitchen")
    assert gate.status_text() == "listening for hey_jarvis" and gate.state is ConversationState.LISTENING
