"""Two wake-word agents on one microphone under one daemon: the daemon's own `Daemon`, `SessionFactory` and
activity modes, real `AgentSession`s over the real SDK against the emulator, one capture device opened once
through a `DeviceHub`, and a scripted detector per agent (a tone each, behind the `WakeDetector` interface).
Saying one agent's word streams to that agent's session only, as the emulator's record shows."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest

from runtime.agentfile.loader import load_agent
from runtime.agentfile.spec import AgentSpec
from runtime.audio.ports import AudioIn, AudioOut
from runtime.audio.shared import DeviceHub
from runtime.daemon.agentdir import LoadedAgentLike, read_directory
from runtime.daemon.app import SessionFactory
from runtime.daemon.daemon import Daemon, DaemonSettings
from runtime.daemon.events import EventChannel
from runtime.daemon.modes import ActivityModes, ModeTools
from runtime.daemon.systemd import Notifier
from runtime.emulator import EmulatorOptions, serve
from runtime.live.endpoint import Endpoint
from runtime.live.events import NullEvents
from runtime.retry import RetryPolicy
from runtime.wake.gate import WakeGate
from runtime.wake.mute import MuteSwitch
from tests.daemon.harness import MODEL, NotifySocket, make_agents
from tests.daemon.test_microphones import realtime_input
from tests.wake.scenes import BLOCK, ClockedSpeaker, PacedMic, Scene, babble, tone, tone_detector

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

WORDS_HZ = {"kitchen": 1000.0, "house": 2200.0}


def agent_yaml(name: str) -> str:
    return f"""\
name: {name}
model: {MODEL}
instructions: You are the {name} agent.
activity: {{mode: wake_word}}
conversation: {{idle_timeout_s: 1.0}}
audio:
  input: {{device: 'file:silence.wav'}}
  output: {{device: 'file:{name}-out.wav'}}
"""


class ToneGates:
    """`wake_gate_for` with a tone detector per agent: each agent's own "wake word"."""

    def __init__(self) -> None:
        self.gates: dict[str, WakeGate] = {}

    def __call__(
        self, spec: AgentSpec, mic: AudioIn, speaker: AudioOut | None, mute: MuteSwitch, path: Path, agent: str
    ) -> WakeGate:
        detector = tone_detector(hz=WORDS_HZ[agent])
        gate = WakeGate(mic, detector, idle_timeout_s=spec.conversation.idle_timeout_s, mute=mute, agent=agent)
        self.gates[agent] = gate
        return gate


def audio_by_agent(records: list[dict[str, Any]]) -> dict[str, int]:
    """Audio messages the emulator received on each agent's connections (told apart by their instructions)."""
    agent_of: dict[int, str] = {}
    counts = dict.fromkeys(WORDS_HZ, 0)
    for record in list(records):
        text = json.dumps(record["msg"]) if isinstance(record["msg"], dict) else ""
        for name in WORDS_HZ:
            if f"You are the {name} agent." in text:
                agent_of[record["conn"]] = name
        if "audio" in realtime_input(record):
            counts[agent_of[record["conn"]]] += 1
    return counts


async def test_saying_one_agents_word_streams_to_that_agent_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scene = Scene(9.0)
    scene.add(0.5, babble(1.0), "chatter")
    scene.add(2.0, tone(0.4, hz=WORDS_HZ["kitchen"]), "kitchen_word")
    scene.add(2.6, babble(1.2, seed=2), "request")
    scene.add(3.4, tone(0.4, hz=WORDS_HZ["house"]), "house_inside")  # inside the kitchen's conversation
    mic = PacedMic(scene.write(tmp_path / "mic.wav"))
    agents = make_agents(tmp_path / "agents", [])
    for name in WORDS_HZ:
        (agents / f"{name}.yaml").write_text(agent_yaml(name))
    hub, gates, notify = DeviceHub(), ToneGates(), NotifySocket(tmp_path)
    speakers = {name: ClockedSpeaker(mic) for name in WORDS_HZ}

    def ports(agent: LoadedAgentLike) -> tuple[AudioIn, AudioOut]:
        tap = hub.capture("input:0:hw:1,0", lambda: mic, block_frames=BLOCK, agent=agent.name)
        return tap, speakers[agent.name]

    async with serve(EmulatorOptions()) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key")
        channel = EventChannel()
        modes = ActivityModes(ModeTools(MuteSwitch(), channel.publish, gates))
        factory = SessionFactory(endpoint, tmp_path / "state", NullEvents(), ports=ports, modes=modes,
                                 retry=RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2))
        read = functools.partial(read_directory, agents, load_agent)
        daemon = Daemon(agents, read, factory, Notifier(str(notify.path)), DaemonSettings(watch=False),
                        channel=channel)
        async with anyio.create_task_group() as group:
            await group.start(daemon.run)
            with anyio.fail_after(30):
                await mic.exhausted.wait()
                while "kitchen: listening at" not in caplog.text:
                    await anyio.sleep(0.02)  # the emulator has no event to wait on
            daemon.stop()
        counts = audio_by_agent(emulator.records)
    notify.close()
    print(f"\naudio messages received by the emulator per agent: {counts}")
    assert mic.opens == 1, "one microphone, opened once for both agents"
    assert counts["kitchen"] > 0 and counts["house"] == 0, "nothing reached the agent whose word was not said"
    assert "house: wake word ignored, kitchen is in an exclusive conversation" in caplog.text
