"""The issue's "done when": `runtime run` (a real daemon process, its built-in emulator) with an agent whose
audio is a `wyoming-satellite` process answers a request spoken into the satellite and plays the reply
through it; while the satellite is away, `STATUS=` says so and the agent keeps running."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.harness import MODEL, start_daemon
from tests.live.conftest import speech_wav
from tests.satellite.harness import raw_mic, running_satellite

pytestmark = pytest.mark.slow

SCENARIO = """\
speech_transcripts: [what time is it, the time please, time again, and the time, what time]
rules:
  - when: {text: time}
    then: [{say: "It is noon."}]
"""
REPLY_BYTES = len("It is noon.") * 60 * 48


def test_runtime_run_answers_a_request_spoken_into_a_satellite_through_its_speaker(tmp_path: Path) -> None:
    # A request every 4 s: the satellite's microphone starts with its process, and the daemon (started after
    # it) connects a second or two later; what the satellite hears before that goes nowhere.
    pcm = speech_wav(tmp_path / "request.wav", [("pause", 1.5)] + [("speech", 1.0), ("pause", 3.0)] * 5
                     + [("pause", 60.0)])
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 22_050, 1)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    with running_satellite(tmp_path, mic_raw, rate_hz=22_050) as satellite:
        (agents / "kitchen.yaml").write_text(
            f"name: kitchen\nmodel: {MODEL}\ninstructions: Be brief.\naudio:\n  satellite: \"{satellite.url}\"\n"
        )
        daemon = start_daemon(agents, tmp_path, "--backend", "emulator", "--emulator-scenario",
                              str(tmp_path / "scenario.yaml"))
        try:
            daemon.notify.expect("READY", timeout_s=30)
            daemon.wait_line(r"kitchen.*connected to satellite", timeout_s=30)
            _wait_for(lambda: len(satellite.played()) >= REPLY_BYTES)
            satellite.process.terminate()
            satellite.process.wait(timeout=10)
            daemon.notify.expect_status("1 agent: 1 running; kitchen: waiting for satellite", timeout_s=30)
        finally:
            daemon.stop()
            daemon.notify.close()
    assert len(satellite.played()) >= REPLY_BYTES
    assert not daemon.matching(r"Traceback")


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the satellite did not play the reply"
        time.sleep(0.05)


WAKE_SCENARIO = """\
speech_transcripts: [what time is it, what time is it now, the time please, and the time again]
rules:
  - when: {text: time}
    then: [{say: "It is noon."}]
"""


def test_a_satellite_that_hears_its_own_wake_word_opens_each_exchange_and_is_released_after_the_reply(
    tmp_path: Path,
) -> None:
    """Each burst of "speech" is wake word and request at once: the satellite streams after its wake word
    (`run-pipeline` from `asr`), the agent answers, and the `transcript` sent after the reply puts the
    satellite back to listening for its wake word, so the second burst opens a second exchange."""
    # Four bursts: the satellite's microphone starts with its process, before the daemon connects, so the
    # first burst may come before the daemon listens (the satellite resets on `run-satellite`).
    pcm = speech_wav(tmp_path / "request.wav", [("pause", 1.0)] + [("speech", 1.0), ("pause", 4.0)] * 4
                     + [("pause", 60.0)])
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 16_000, 1)
    (tmp_path / "scenario.yaml").write_text(WAKE_SCENARIO)
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    with running_satellite(tmp_path, mic_raw, wake=True) as satellite:
        (agents / "kitchen.yaml").write_text(
            f"name: kitchen\nmodel: {MODEL}\ninstructions: Be brief.\naudio:\n  satellite: \"{satellite.url}\"\n"
        )
        daemon = start_daemon(agents, tmp_path, "--backend", "emulator", "--emulator-scenario",
                              str(tmp_path / "scenario.yaml"))
        try:
            daemon.notify.expect("READY", timeout_s=30)
            first = daemon.wait_line(r"kitchen: satellite .* streams \(its wake word heard\)", timeout_s=30)
            _wait_for(lambda: len(satellite.played()) >= REPLY_BYTES)
            daemon.wait_line(r"kitchen: satellite .* streams \(its wake word heard\)", timeout_s=30,
                             after=daemon.lines.index(first) + 1)
            _wait_for(lambda: len(satellite.played()) >= 2 * REPLY_BYTES)
        finally:
            daemon.stop()
            daemon.notify.close()
    played = len(satellite.played())
    assert played >= 2 * REPLY_BYTES and played % REPLY_BYTES == 0, "whole replies, each once"
    assert not daemon.matching(r"Traceback")
