"""`runtime_echo_erle_db` from a whole daemon on the rig: `audio.echo: cancel` on the real PortAudio devices,
with the rig's loopback playing the speaker back into the microphone 60 ms late at -10 dB (a room's echo).
While the model's reply plays, the canceller measures how much echo it removes and the page shows it: a
positive figure for that agent. The figure is printed, not bounded (it depends on the machine's load)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.audio.echo import livekit_available
from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.emulator.server import Emulator
from tests.audio.rig import echo_path, feed_microphone, needs_rig, speech
from tests.daemon.harness import MODEL, start_daemon

pytestmark = [
    needs_rig, pytest.mark.audio, pytest.mark.timeout(90),
    pytest.mark.skipif(not livekit_available(), reason="livekit ([aec] extra) not installed"),
]

AGENT = f"""\
name: rig
model: {MODEL}
instructions: Answer briefly.
audio:
  input: {{device: default}}
  output: {{device: default}}
  echo: cancel
activity:
  mode: server
"""
SCENARIO = """\
speech_transcripts: ["Tell me a story."]
rules:
  - when: {text: story}
    then:
      - say: >-
          Once upon a time there was a very long story that went on and on and on,
          so that a canceller had plenty of echo to learn from and remove.
"""
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    with EmulatorThread(EmulatorOptions(scenario=scenario)) as running:
        yield running


def page(base: str) -> Samples:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def until(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.1)


def test_the_echo_canceller_on_a_real_speaker_and_microphone_reports_its_erle(
    tmp_path: Path, emulator: Emulator
) -> None:
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    (agents / "rig.yaml").write_text(AGENT)
    erle = ("runtime_echo_erle_db", (("agent", "rig"),))
    with echo_path(latency_ms=60, volume="-10dB"):
        daemon = start_daemon(
            agents, tmp_path, "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file),
            "--metrics", "127.0.0.1:0",
            env={"GEMINI_API_KEY": "test", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
        )  # fmt: skip
        try:
            found = re.search(r"http://[\d.:]+", daemon.wait_line(r"metrics on http://"))
            assert found
            base = found.group(0)
            daemon.notify.expect("READY")
            until(lambda: page(base).get(("runtime_connections_total", (("agent", "rig"),)), 0) >= 1, "connected")
            assert erle not in page(base), "nothing played yet: no estimate"
            feed_microphone(speech(16_000, seconds=1.5), 16_000).join()
            until(lambda: erle in page(base), "an ERLE estimate while the reply plays")
            first = page(base)[erle]
            until(lambda: page(base)[erle] != first, "a later estimate (the figure follows the audio)", timeout_s=20)
            later = page(base)[erle]
        finally:
            assert daemon.stop() == 0
    print(f"ERLE on the rig (echo at -10 dB, 60 ms): first estimate {first:.1f} dB, a later one {later:.1f} dB")
    assert later > 0, "the canceller removes echo: the microphone is quieter after it than before"
