"""A satellite that streams all the time, and the wake word heard on the server: `runtime run` with a
`wake_word` agent whose audio is a real `wyoming-satellite`. The real microWakeWord model hears "Okay Nabu"
(espeak-ng over noise) in the satellite's stream; the satellite is told `detection` when the conversation
opens and `transcript` when it closes (its event commands run: what would drive its LEDs)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon.harness import MODEL, start_daemon
from tests.daemon.test_wake_process import spoken_scene
from tests.satellite.harness import raw_mic, running_satellite

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"),
]
pytest.importorskip("pymicro_wakeword")


def test_the_server_hears_the_wake_word_in_a_satellites_stream_and_tells_the_satellite(tmp_path: Path) -> None:
    pcm = spoken_scene().pcm()
    mic_raw = raw_mic(tmp_path / "mic.raw", pcm, 16_000, 1)
    event_log = tmp_path / "satellite-events.txt"
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    with running_satellite(tmp_path, mic_raw, event_log=event_log) as satellite:
        (agents / "kitchen.yaml").write_text(
            f"name: kitchen\nmodel: {MODEL}\ninstructions: Be brief.\n"
            "activity: {mode: wake_word, wake: {model: okay_nabu}}\nconversation: {idle_timeout_s: 1.0}\n"
            f"audio:\n  satellite: \"{satellite.url}\"\n"
        )
        daemon = start_daemon(agents, tmp_path, "--backend", "emulator")
        try:
            daemon.notify.expect("READY", timeout_s=30)
            daemon.wait_line(r"kitchen: conversation at [\d.]+ s of audio \(wake\)", timeout_s=40)
            daemon.wait_line(r"kitchen: listening at [\d.]+ s of audio \(idle\)", timeout_s=40)
            _wait_for(lambda: event_log.exists() and "transcript" in event_log.read_text())
        finally:
            daemon.stop()
            daemon.notify.close()
    assert event_log.read_text().splitlines()[:2] == ["detection okay_nabu", "transcript"]
    assert not daemon.matching(r"Traceback")


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the satellite was not told"
        time.sleep(0.05)
