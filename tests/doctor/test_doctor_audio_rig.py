"""`runtime doctor`'s audio checks on the PulseAudio rig (tests/rig/setup.sh), with real PortAudio: the devices
agents name open at a usable rate, a silent microphone fails, a microphone that hears something passes with
its level, and the speaker opens. Run under the rig lock (notes in tests/audio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audio.rig import feed_microphone, needs_rig, sine
from tests.doctor.helpers import checks_of, clean_env, closed_port, run_doctor, write_agent

pytestmark = [pytest.mark.audio, needs_rig]

AGENT = "model: gemini-3.8-live\naudio:\n  input: {device: default}\n  output: {device: default}\n"


def doctor_audio(agents: Path) -> dict[str, dict[str, object]]:
    result = run_doctor(str(agents), "--json", "--base-url", f"https://127.0.0.1:{closed_port()}", env=clean_env())
    assert "Traceback" not in result.stderr, result.stderr
    return {name: check for name, check in checks_of(result).items() if check["family"] == "audio"}


def test_a_microphone_that_hears_a_tone_passes_with_its_level(tmp_path: Path) -> None:
    write_agent(tmp_path, "kitchen", AGENT)
    feeder = feed_microphone(sine(440, 10.0, 16000, level=0.3), 16000)
    try:
        checks = doctor_audio(tmp_path)
    finally:
        feeder.join()
    microphone = checks["kitchen microphone (default)"]
    assert microphone["status"] == "pass", microphone
    assert "opens at" in str(microphone["detail"]) and "dBFS" in str(microphone["detail"])
    speaker = checks["kitchen speaker (default)"]
    assert speaker["status"] == "pass" and "silence played" in str(speaker["detail"])


def test_a_silent_microphone_fails_with_a_hint(tmp_path: Path) -> None:
    write_agent(tmp_path, "kitchen", AGENT)
    microphone = doctor_audio(tmp_path)["kitchen microphone (default)"]
    assert microphone["status"] == "fail", microphone
    assert "digital silence" in str(microphone["detail"]) or "dBFS" in str(microphone["detail"])
    assert "muted or unplugged" in str(microphone["hint"])
