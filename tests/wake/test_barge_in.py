"""A barge-in inside a wake-word conversation, through the gate, the daemon's glue, a real AgentSession, the real
SDK and the emulator: the interrupted turn's `turnComplete` — here the late one, after the answer has begun —
does not end the conversation; it stays open while the answer plays and ends `idle_timeout_s` after it."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.audio.files import WavFileOut
from runtime.daemon.modes import ModeTools, WakeWordMode
from runtime.emulator import EmulatorOptions, Fault, parse_scenario, serve
from runtime.live.endpoint import Endpoint
from runtime.live.session import AgentSession
from runtime.retry import RetryPolicy
from runtime.wake.gate import Earcons, WakeGate
from runtime.wake.lifecycle import ConversationEvent, ConversationState
from runtime.wake.mute import MuteSwitch
from tests.live.conftest import Recorder
from tests.wake.scenes import BLOCK, RATE, babble, noise, tone, tone_detector

pytestmark = pytest.mark.anyio

IDLE_TIMEOUT_S = 8.0
"""Audio time (the microphone runs at four times real time): two seconds of real time, so that the replies'
network latency, times four, never counts as a pause in the conversation."""
ANSWER = "Okay, I will stop the story here."
SCENARIO = parse_scenario({
    "speech_transcripts": ["tell me a story", "stop"],
    "rules": [
        {"when": {"text": "story"}, "then": [{"say": "Once upon a time there was a tiny robot who loved music."}]},
        {"when": {"text": "stop"}, "then": [{"say": ANSWER}]},
    ],
})


class CuedMic:
    """An `AudioIn` at four times real time: the wake word and the request, then quiet noise until `cue` is set,
    then the barge-in, then quiet noise forever. The cue makes the user talk over the model exactly while
    the model talks, whatever the machine's speed."""

    PACE_S = BLOCK / RATE / 4

    def __init__(self, cue: anyio.Event) -> None:
        self.block_frames = BLOCK
        self.cue = cue
        self.captured_frames = 0
        self._pending = bytearray(pcm(np.concatenate([noise(0.5), tone(0.4), noise(0.2), babble(1.2)])))
        self._barge_in = pcm(babble(0.8, seed=2))
        self._quiet = pcm(noise(0.1, seed=3))

    async def open(self) -> None: ...

    async def read(self) -> bytes:
        await anyio.sleep(self.PACE_S)
        size = BLOCK * 2
        if len(self._pending) < size:
            if self.cue.is_set() and self._barge_in:
                self._pending += self._barge_in
                self._barge_in = b""
            else:
                self._pending += self._quiet
        block = bytes(self._pending[:size])
        del self._pending[:size]
        self.captured_frames += BLOCK
        return block

    async def close(self) -> None: ...


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


@dataclass(frozen=True)
class Agent:
    """A loaded agent, as far as the daemon's activity modes look at it."""

    spec: AgentSpec
    name: str
    path: Path


def audio_after_interruption(sent: list[dict[str, Any]]) -> int:
    """Bytes of model audio the emulator sent after its `interrupted`: the answer."""
    cut = next(i for i, m in enumerate(sent) if m.get("serverContent", {}).get("interrupted"))
    return sum(
        len(base64.b64decode(part["inlineData"]["data"]))
        for message in sent[cut:]
        for part in message.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    )


async def test_the_interrupted_turns_late_end_keeps_the_conversation_open_through_the_answer(tmp_path: Path) -> None:
    story_heard = anyio.Event()
    mic, speaker = CuedMic(story_heard), WavFileOut(tmp_path / "out.wav")
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=IDLE_TIMEOUT_S, earcons=Earcons(speaker))
    ended = anyio.Event()
    transitions: list[tuple[str, float]] = []

    def on_event(event: ConversationEvent) -> None:
        transitions.append((event.reason, time.monotonic()))
        if event.state is ConversationState.LISTENING:
            ended.set()

    gate.add_listener(on_event)
    recorder = Recorder()
    spec = AgentSpec.model_validate({"model": "gemini-3.8-live", "activity": {"mode": "wake_word"}})
    tools = ModeTools(MuteSwitch(), build_gate=lambda *_: gate)
    mode = WakeWordMode(Agent(spec, "kitchen", tmp_path / "kitchen.yaml"), tools)
    assert mode.microphone(mic, speaker) is gate
    options = EmulatorOptions(scenario_obj=SCENARIO, faults=(Fault(action="late_turn_complete"),))
    async with serve(options) as emulator:
        session = AgentSession(
            spec, name="kitchen", base_dir=tmp_path,
            endpoint=Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key"),
            audio_in=gate, audio_out=speaker, state_dir=tmp_path / "state",
            events=mode.events(recorder), policy=RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2),
        )
        runnable = mode.runnable(session)
        async with anyio.create_task_group() as group:
            await group.start(runnable.run)
            await recorder.until(lambda: session.downlink.stats.audio_bytes > 0, timeout_s=30)
            story_heard.set()
            with anyio.fail_after(60):
                await ended.wait()
            group.cancel_scope.cancel()
        sent = [entry["msg"] for entry in emulator.sent]
    assert [reason for reason, _ in transitions] == ["wake", "idle"]
    assert audio_after_interruption(sent) == len(ANSWER) * 60 * 48, "the story was interrupted, the answer whole"
    assert session.downlink.stats.turns == 1 and emulator.connections == 1
    answered_at = next(at for at, kind, value in recorder.entries if kind == "state" and value[0] == "turn_complete")
    # The conversation outlived the whole answer: complete, and played out before the idle countdown ran out.
    assert answered_at < transitions[-1][1]
