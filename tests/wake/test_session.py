"""The gate in front of a real `AgentSession`, over the real SDK, against the emulator: the emulator's record
of every audio byte it received is the proof of what left the device."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from runtime.agentfile.spec import AgentSpec
from runtime.emulator import EmulatorOptions, EmulatorThread
from runtime.live.endpoint import Endpoint
from runtime.live.session import AgentSession
from runtime.retry import RetryPolicy
from runtime.wake.gate import WakeGate
from runtime.wake.lifecycle import ConversationEvent, ConversationState
from runtime.wake.mute import MuteSwitch
from tests.wake.scenes import (
    BLOCK,
    RATE,
    ClockedSpeaker,
    PacedMic,
    Scene,
    babble,
    tone,
    tone_detector,
)

pytestmark = pytest.mark.anyio

TIMEOUT_S = 1.0


class CountingIn:
    """Counts what the session read from the gate, to know when the emulator has received all of it."""

    def __init__(self, gate: WakeGate) -> None:
        self.block_frames = gate.block_frames
        self.gate = gate
        self.returned_bytes = 0

    async def open(self) -> None:
        await self.gate.open()

    async def read(self) -> bytes:
        block = await self.gate.read()
        self.returned_bytes += len(block)
        return block

    async def close(self) -> None:
        await self.gate.close()


async def test_the_service_receives_only_the_conversation_and_nothing_while_muted(tmp_path: Path) -> None:
    scene = Scene(9.0)
    scene.add(0.5, babble(1.5), "chatter")
    scene.add(2.5, tone(0.4), "wake")
    scene.add(3.1, babble(1.2, seed=2), "request")
    scene.add(6.0, babble(1.0, seed=3), "late_chatter")
    scene.add(7.5, tone(0.4), "muted_wake")
    connected, mute = anyio.Event(), MuteSwitch()
    mic = PacedMic(scene.write(tmp_path / "mic.wav"), connected)
    mic.on_block = lambda t: t >= 7.0 and mute.set(True, "test")
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=TIMEOUT_S, mute=mute)
    events: list[ConversationEvent] = []
    muted = anyio.Event()

    def on_event(event: ConversationEvent) -> None:
        events.append(event)
        if event.state is ConversationState.MUTED:
            muted.set()

    gate.add_listener(on_event)
    uplink = CountingIn(gate)
    spec = AgentSpec.model_validate({"model": "gemini-3.8-live", "activity": {"mode": "wake_word"}})
    with EmulatorThread(EmulatorOptions()) as emulator:
        session = AgentSession(
            spec,
            name="kitchen",
            base_dir=tmp_path,
            endpoint=Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key"),
            audio_in=uplink,
            audio_out=ClockedSpeaker(mic),
            state_dir=tmp_path / "state",
            policy=RetryPolicy(first_backoff_s=0.05, longest_backoff_s=0.2),
        )
        async with anyio.create_task_group() as group:
            await group.start(session.run)
            connected.set()
            with anyio.fail_after(30):
                await muted.wait()
                while len(emulator.audio_bytes_received()) < uplink.returned_bytes:
                    await anyio.sleep(0.02)  # the emulator runs in its own thread and has no event to wait on
            group.cancel_scope.cancel()
        received = emulator.audio_bytes_received()
    pcm = scene.pcm()
    start = pcm.find(received[: BLOCK * 2])
    assert start >= 0 and pcm[start : start + len(received)] == received, "one contiguous stretch of the mic"
    start_s, end_s = start / 2 / RATE, (start + len(received)) / 2 / RATE
    woke = next(event for event in events if event.reason == "wake")
    print(f"\nthe service received {start_s:.2f}–{end_s:.2f} s of the mic; woke at {woke.at_s:.2f} s")
    assert woke.at_s - 0.3 - 0.02 <= start_s and start_s >= scene.marks["chatter_end"]
    deadline = scene.marks["request_end"] + TIMEOUT_S
    assert deadline - 0.1 <= end_s <= deadline + 0.1
    assert [event.reason for event in events] == ["wake", "idle", "muted"]
