"""`runtime_interrupt_to_silence_seconds` from a whole daemon on the rig's real PortAudio speaker: the user
talks over the model's spoken reply, the service interrupts it, and the histogram gets one observation, from
the service's `interrupted` to the speaker port playing silence after its flush (told by PortAudio's callback).
No time bound is asserted: the figure depends on the machine's load; it is printed."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.emulator.server import Emulator
from tests.audio.rig import Recorder, feed_microphone, needs_rig, rms, speech
from tests.daemon.harness import MODEL, Daemon, start_daemon

pytestmark = [needs_rig, pytest.mark.audio, pytest.mark.timeout(90)]

AGENT = f"""\
name: rig
model: {MODEL}
instructions: Answer briefly.
audio:
  input: {{device: default}}
  output: {{device: default}}
  echo: none
activity:
  mode: server
  barge_in: true
"""
SCENARIO = """\
speech_transcripts: ["Tell me a story.", "Stop."]
rules:
  - when: {text: story}
    then:
      - say: >-
          Once upon a time there was a very long story that went on and on and on,
          so that anyone could interrupt it whenever they liked, and somebody did.
"""
SPEAKER_RATE_HZ = 24_000


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    with EmulatorThread(EmulatorOptions(scenario=scenario)) as running:
        yield running


def page(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def until(check: object, what: str, timeout_s: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.05)


def start(tmp_path: Path, emulator: Emulator) -> tuple[Daemon, str]:
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    (agents / "rig.yaml").write_text(AGENT)
    daemon = start_daemon(
        agents, tmp_path, "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file),
        "--metrics", "127.0.0.1:0",
        env={"GEMINI_API_KEY": "test", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"},
    )  # fmt: skip
    found = re.search(r"http://[\d.:]+", daemon.wait_line(r"metrics on http://"))
    assert found
    return daemon, found.group(0)


def test_a_barge_in_on_a_real_speaker_gives_one_interrupt_to_silence_observation(
    tmp_path: Path, emulator: Emulator
) -> None:
    agent = (("agent", "rig"),)
    daemon, base = start(tmp_path, emulator)
    try:
        daemon.notify.expect("READY")
        until(lambda: page(base).get(("runtime_connections_total", agent), 0) >= 1, "connected")
        with Recorder("rig_speaker_monitor", SPEAKER_RATE_HZ) as monitor:
            feed_microphone(speech(16_000, seconds=1.5), 16_000).join()
            heard_before = len(monitor.samples())
            # The reply sounds: the last 100 ms the monitor recorded are loud.
            until(lambda: len(monitor.samples()) > heard_before
                  and rms(monitor.samples()[-SPEAKER_RATE_HZ // 10 :]) > 1000, "the reply playing", timeout_s=20)
            feed_microphone(speech(16_000, seconds=1.5), 16_000).join()
            until(lambda: page(base).get(("runtime_interrupt_to_silence_seconds_count", agent), 0) >= 1,
                  "an interrupt-to-silence observation")
            metrics = page(base)
            loud = np.abs(monitor.samples()) > 1000
    finally:
        assert daemon.stop() == 0
    seconds = metrics[("runtime_interrupt_to_silence_seconds_sum", agent)]
    print(f"interrupt to silence on the rig's speaker: {1000 * seconds:.1f} ms; "
          f"{np.count_nonzero(loud) / SPEAKER_RATE_HZ:.2f} s of reply heard")
    assert metrics[("runtime_interruptions_total", agent)] == 1
    assert metrics[("runtime_interrupt_to_silence_seconds_count", agent)] == 1
    assert seconds > 0
