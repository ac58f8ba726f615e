"""`runtime run` as a real subprocess with a `wake_word` agent: the real microWakeWord model listening to a
WAV-file microphone (espeak-ng speech over noise), SIGUSR1 muting and unmuting, and the emulator's record
of every client message as the proof of what left the device and when."""

from __future__ import annotations

import base64
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.emulator import EmulatorOptions, EmulatorThread
from tests.daemon.harness import MODEL, Daemon, start_daemon, write_silence
from tests.wake.scenes import BLOCK, RATE, Scene, babble, espeak

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)"),
]
pytest.importorskip("pymicro_wakeword")

IDLE_TIMEOUT_S = 1.0
HEARD_BEFORE_MUTE_S = 0.8
"""The mute comes in the middle of the request, once the service has heard this much of the conversation."""
MUTED_WINDOW_S = 1.0
"""How long the test keeps the microphone muted while it watches the emulator receive nothing."""

AGENT = f"""\
name: kitchen
model: {MODEL}
instructions: Be brief.
activity: {{mode: wake_word, wake: {{model: okay_nabu}}}}
conversation: {{idle_timeout_s: {IDLE_TIMEOUT_S}}}
audio:
  input: {{device: 'file:mic.wav'}}
  output: {{device: 'file:kitchen-out.wav'}}
"""
DESK = f"""\
name: desk
model: {MODEL}
instructions: You are the desk agent.
audio:
  input: {{device: 'file:silence.wav'}}
  output: {{device: 'file:desk-out.wav'}}
"""
"""An always-listening agent (server VAD): the mute closes its microphone too."""
LISTENING = "2 agents: 2 running; kitchen: listening for okay_nabu"


@dataclass(frozen=True)
class Sent:
    """One client message the emulator received: audio (its PCM) or `audioStreamEnd`."""

    mono: float
    pcm: bytes | None
    agent: str

    @property
    def stream_end(self) -> bool:
        return self.pcm is None


def uplink(records: list[dict[str, Any]], agent: str | None = "kitchen") -> list[Sent]:
    """Audio and `audioStreamEnd` messages of `agent` (None: every agent); connections are told apart by
    the instructions in their setup message."""
    sent, agents = [], {}
    for record in list(records):
        message = record["msg"] if isinstance(record["msg"], dict) else {}
        if "setup" in message:
            agents[record["conn"]] = "desk" if "desk agent" in str(message["setup"]) else "kitchen"
        realtime = message.get("realtimeInput") or message.get("realtime_input") or {}  # the SDK: snake_case
        pcm = base64.urlsafe_b64decode(realtime["audio"]["data"]) if "audio" in realtime else None
        if pcm is not None or realtime.get("audioStreamEnd") or realtime.get("audio_stream_end"):
            sent.append(Sent(record["mono"], pcm, agents.get(record["conn"], "?")))
    return [m for m in sent if agent is None or m.agent == agent]


def wait_for(condition: Any, timeout_s: float = 15.0) -> None:
    """The emulator runs in its own thread and has no event to wait on: poll its record."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the emulator's record"
        time.sleep(0.02)


def conversations(sent: list[Sent]) -> list[bytes]:
    """The audio of each conversation: what was received before each `audioStreamEnd`."""
    result, current = [], bytearray()
    for message in sent:
        if message.stream_end:
            result.append(bytes(current))
            current.clear()
        else:
            assert message.pcm is not None
            current += message.pcm
    assert not current, "audio after the last audioStreamEnd"
    return result


def span_in(pcm: bytes, audio: bytes) -> tuple[float, float]:
    """Where `audio` sits in the microphone's file (seconds); it must be one contiguous stretch of it."""
    start = pcm.find(audio[: BLOCK * 2])
    assert start >= 0 and pcm[start : start + len(audio)] == audio, "not one contiguous stretch of the mic"
    return start / 2 / RATE, (start + len(audio)) / 2 / RATE


def spoken_scene() -> Scene:
    """Chatter, then "Okay Nabu, turn on the kitchen lights" and a little more talk, over noise."""
    chatter, wake = espeak("What is the weather like today?"), espeak("Okay Nabu")
    request = espeak("turn on the kitchen lights", speed=170)
    assert chatter is not None and wake is not None and request is not None
    scene = Scene(20.0, noise_dbfs=-45.0)
    scene.add(1.0, chatter, "chatter")
    wake_end = scene.add(4.0, wake, "wake")
    request_end = scene.add(wake_end + 0.3, request, "request")
    scene.add(request_end + 0.2, babble(2.0), "more")
    return scene


def wake_at(daemon: Daemon, after: int) -> float:
    line = daemon.wait_line(r"kitchen: conversation at [\d.]+ s of audio \(wake\)", timeout_s=20, after=after)
    return float(re.findall(r"at ([\d.]+) s", line)[0])


def test_nothing_leaves_before_the_wake_word_or_while_muted(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir(mode=0o755)
    scene = spoken_scene()
    pcm = scene.write(agents / "mic.wav").read_bytes()[44:]
    assert pcm == scene.pcm()
    (agents / "kitchen.yaml").write_text(AGENT)
    write_silence(agents / "silence.wav", 3.0)
    (agents / "desk.yaml").write_text(DESK)
    with EmulatorThread(EmulatorOptions()) as emulator:
        endpoint = ["--backend", "gemini", "--base-url", emulator.base_url, "--ca-file", str(emulator.ca_file)]
        daemon = start_daemon(agents, tmp_path, *endpoint, env={"GEMINI_API_KEY": "test-key"})
        try:
            assert daemon.notify.expect("READY", timeout_s=30)["STATUS"] == LISTENING
            first_wake_s = wake_at(daemon, 0)
            daemon.notify.expect_status("2 agents: 2 running; kitchen: in conversation")
            wait_for(lambda: sum(len(m.pcm or b"") for m in uplink(emulator.records)) >= HEARD_BEFORE_MUTE_S * RATE * 2)

            mark = len(daemon.lines)
            daemon.signal(signal.SIGUSR1)
            daemon.wait_line(r"microphone muted \(SIGUSR1\)", after=mark)
            muted_line = daemon.wait_line(r"kitchen: muted at [\d.]+ s of audio \(muted\)", after=mark)
            muted_at_s = float(re.findall(r"at ([\d.]+) s", muted_line)[0])
            daemon.notify.expect_status("2 agents: 2 running; mic muted")
            wait_for(lambda: any(m.stream_end for m in uplink(emulator.records)))
            quiet_from = time.monotonic()
            time.sleep(MUTED_WINDOW_S)  # the window watched for audio, not a synchronisation
            quiet_until = time.monotonic()

            mark = len(daemon.lines)
            daemon.signal(signal.SIGUSR1)
            daemon.wait_line(r"microphone unmuted \(SIGUSR1\)", after=mark)
            daemon.notify.expect_status(LISTENING)
            second_wake_s = wake_at(daemon, mark)  # the file microphone starts again when it is reopened
            daemon.wait_line(r"kitchen: listening at [\d.]+ s of audio \(idle\)", timeout_s=30, after=mark)
            wait_for(lambda: sum(m.stream_end for m in uplink(emulator.records)) == 2)
            sent, everyone = uplink(emulator.records), uplink(emulator.records, None)
        finally:
            assert daemon.stop() == 0

    assert not [m for m in everyone if quiet_from <= m.mono <= quiet_until], "audio reached the service while muted"
    desk = [m.mono for m in everyone if m.agent == "desk"]
    assert min(desk) < quiet_from and max(desk) > quiet_until, "the desk streams before the mute and after it"
    first, second = conversations(sent)
    start_1, end_1 = span_in(pcm, first)
    start_2, end_2 = span_in(pcm, second)
    print(f"\nwoke at {first_wake_s:.2f} s: the service received {start_1:.2f}–{end_1:.2f} s of the mic, "
          f"muted at {muted_at_s:.2f} s; after unmuting, woke at {second_wake_s:.2f} s of audio and received "
          f"{start_2:.2f}–{end_2:.2f} s of the replayed file")
    for start in (start_1, start_2):
        assert scene.marks["chatter_end"] < start <= scene.marks["request"], "only the pre-roll before the request"
    assert first_wake_s - 0.3 - BLOCK / RATE <= start_1
    assert start_1 + HEARD_BEFORE_MUTE_S <= end_1 <= muted_at_s, "nothing captured after the mute was sent"
    assert end_2 >= scene.marks["request_end"], "the whole request of the second conversation was sent"
