"""Issue 21's "done when", as users run it: `runtime run` (a real subprocess) with two agent files naming the
same microphone and speaker on the PulseAudio rig, each with its own bundled wake word; "Okay Nabu" spoken
into the microphone streams to the kitchen agent only, as the emulator's record shows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime.emulator import EmulatorOptions, EmulatorThread
from tests.audio.rig import feed_microphone, needs_rig
from tests.daemon.harness import MODEL, start_daemon
from tests.daemon.test_wake_process import spoken_scene, wait_for
from tests.wake.scenes import RATE

pytestmark = [
    pytest.mark.audio,
    needs_rig,
    pytest.mark.timeout(90),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"),
]
pytest.importorskip("pymicro_wakeword")


def agent_yaml(name: str, word: str, mic: str) -> str:
    return f"""\
name: {name}
model: {MODEL}
instructions: You are the {name} agent.
activity: {{mode: wake_word, wake: {{model: {word}}}}}
conversation: {{idle_timeout_s: 1.0, start_earcon: null, end_earcon: null}}
audio:
  input: {{device: {mic}}}
  output: {{device: default}}
  echo: none
"""


def audio_bytes_by_agent(records: list[dict[str, object]]) -> dict[str, int]:
    agent_of: dict[object, str] = {}
    counts = {"kitchen": 0, "house": 0}
    for record in list(records):
        message = record["msg"] if isinstance(record["msg"], dict) else {}
        if "setup" in message:
            agent_of[record["conn"]] = "kitchen" if "kitchen agent" in str(message["setup"]) else "house"
        realtime = message.get("realtimeInput") or message.get("realtime_input") or {}
        if "audio" in realtime:
            counts[agent_of[record["conn"]]] += len(realtime["audio"]["data"]) * 3 // 4
    return counts


def test_two_agents_on_one_microphone_and_speaker_only_the_one_addressed_streams(tmp_path: Path) -> None:
    tmp = tmp_path
    agents = tmp / "agents"
    agents.mkdir(mode=0o755)
    # Two spellings of one microphone: the daemon opens it once (matched by what it resolves to).
    (agents / "kitchen.yaml").write_text(agent_yaml("kitchen", "okay_nabu", "default"))
    (agents / "house.yaml").write_text(agent_yaml("house", "hey_jarvis", "DEFAULT"))
    scene = spoken_scene()
    with EmulatorThread(EmulatorOptions()) as emulator:
        endpoint = ["--backend", "gemini", "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file)]
        daemon = start_daemon(agents, tmp, *endpoint, env={"GEMINI_API_KEY": "test-key"})
        try:
            status = daemon.notify.expect("READY", timeout_s=30)["STATUS"]
            assert status == "2 agents: 2 running; house: listening for hey_jarvis; kitchen: listening for okay_nabu"
            daemon.wait_line(r"input:\d+:default shared by house, kitchen")
            feeder = feed_microphone((scene.samples * 32767).clip(-32768, 32767).astype("<i2"), RATE)
            daemon.wait_line(r"kitchen: conversation at [\d.]+ s of audio \(wake\)", timeout_s=30)
            daemon.wait_line(r"kitchen: listening at [\d.]+ s of audio \(idle\)", timeout_s=30)
            feeder.join()
            wait_for(lambda: audio_bytes_by_agent(emulator.records)["kitchen"] > 0)
            counts = audio_bytes_by_agent(emulator.records)
        finally:
            assert daemon.stop() == 0
    print(f"\naudio received by the emulator: kitchen {counts['kitchen'] / 2 / RATE:.2f} s, house {counts['house']} B")
    assert counts["kitchen"] / 2 / RATE > 1.0, "the kitchen agent streamed its request"
    assert counts["house"] == 0, "nothing reached the agent whose word was not said"
    assert not [line for line in daemon.lines if "device busy" in line or "Traceback" in line]
