"""Two agents, two wake words, one microphone: each gate hears every block through the daemon's device hub,
only the agent whose word was said opens a conversation, and an exclusive conversation keeps the other asleep.
Detections are scripted (a tone per agent behind the real `WakeDetector` interface)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import anyio
import pytest

from runtime.audio.shared import DeviceHub
from runtime.wake.detector import MicroWakeDetector, WakeDetector
from runtime.wake.floor import ConversationFloors
from runtime.wake.gate import WakeGate
from runtime.wake.lifecycle import ConversationState
from tests.wake.gating import GateRun, run_gate
from tests.wake.scenes import BLOCK, Scene, WavMic, babble, espeak, tone, tone_detector

pytestmark = pytest.mark.anyio

KITCHEN_HZ, HOUSE_HZ = 1000.0, 2200.0


async def run_both(
    scene: Scene,
    tmp_path: Path,
    exclusive: tuple[bool, bool] = (True, True),
    detectors: dict[str, WakeDetector] | None = None,
) -> dict[str, GateRun]:
    """Both agents' gates over taps on one shared microphone (the scene's WAV, opened once); each agent's
    detector is its tone unless `detectors` gives real ones."""
    mic = WavMic(scene.write(tmp_path / "mic.wav"))
    hub = DeviceHub()
    floor = ConversationFloors().floor("input:0:mic")
    gates: dict[str, WakeGate] = {}
    for (name, hz), alone in zip((("kitchen", KITCHEN_HZ), ("house", HOUSE_HZ)), exclusive, strict=True):
        tap = hub.capture("input:0:mic", lambda: mic, block_frames=BLOCK, agent=name)
        detector = detectors[name] if detectors else tone_detector(hz=hz)
        gates[name] = WakeGate(tap, detector, idle_timeout_s=1.0, agent=name)
        gates[name].join_floor(floor, alone)
    runs: dict[str, GateRun] = {}

    async def run(name: str) -> None:
        runs[name] = await run_gate(gates[name], scene)

    async with anyio.create_task_group() as tg:
        for name in gates:
            tg.start_soon(run, name)
    assert mic.opens == 1, "one microphone, opened once for both agents"
    return runs


def wakes(run: GateRun) -> list[float]:
    return [round(event.at_s, 1) for event in run.events_of(ConversationState.CONVERSATION)]


async def test_only_the_agent_whose_word_was_said_streams(tmp_path: Path) -> None:
    scene = Scene(6.0)
    scene.add(0.5, babble(1.0), "chatter")
    scene.add(2.0, tone(0.4, hz=HOUSE_HZ), "house_word")
    scene.add(2.6, babble(1.0, seed=3), "request")
    runs = await run_both(scene, tmp_path)
    assert runs["kitchen"].starts_s == [], "the kitchen agent heard everything and sent nothing"
    assert len(wakes(runs["house"])) == 1
    (start, end), = runs["house"].segments()
    assert start < scene.marks["request"] and end > scene.marks["request_end"]


async def test_an_exclusive_conversation_keeps_the_other_agent_from_waking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    scene = Scene(10.0)
    scene.add(1.0, tone(0.4), "kitchen_word")
    scene.add(1.6, babble(1.0), "request")
    scene.add(2.8, tone(0.4, hz=HOUSE_HZ), "house_inside")  # "... and hey jarvis": inside the kitchen's turn
    scene.add(3.4, babble(0.8, seed=2), "more")
    scene.add(7.0, tone(0.4, hz=HOUSE_HZ), "house_later")  # the kitchen conversation has ended by then
    scene.add(7.6, babble(0.8, seed=4), "house_request")
    runs = await run_both(scene, tmp_path)
    assert len(wakes(runs["kitchen"])) == 1
    house_wakes = wakes(runs["house"])
    assert len(house_wakes) == 1 and house_wakes[0] > scene.marks["house_later"], "woken only the second time"
    assert all(start >= scene.marks["house_later"] - 0.5 for start in runs["house"].starts_s)
    assert any("wake word ignored, kitchen is in an exclusive conversation" in r.getMessage() for r in caplog.records)


async def test_a_non_exclusive_conversation_lets_the_other_agent_wake_alongside(tmp_path: Path) -> None:
    scene = Scene(6.0)
    scene.add(1.0, tone(0.4), "kitchen_word")
    scene.add(1.6, babble(1.0), "request")
    scene.add(2.8, tone(0.4, hz=HOUSE_HZ), "house_inside")
    runs = await run_both(scene, tmp_path, exclusive=(False, True))
    assert len(wakes(runs["kitchen"])) == 1 and len(wakes(runs["house"])) == 1


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)")
async def test_the_bundled_models_on_one_microphone_wake_only_the_agent_addressed(tmp_path: Path) -> None:
    pytest.importorskip("pymicro_wakeword")
    # espeak-ng's voices wake okay_nabu reliably and hey_jarvis (cutoff 0.97) hardly at all (docs/wake-word.md),
    # so the agent addressed is the okay_nabu one.
    chatter, nabu = espeak("What is the weather like today?"), espeak("Okay Nabu")
    request = espeak("turn on the kitchen lights", speed=170)
    assert chatter is not None and nabu is not None and request is not None
    scene = Scene(10.0, noise_dbfs=-45.0)
    scene.add(1.0, chatter, "chatter")
    wake_end = scene.add(4.0, nabu, "wake")
    scene.add(wake_end + 0.3, request, "request")
    detectors: dict[str, WakeDetector] = {
        "kitchen": MicroWakeDetector("okay_nabu"), "house": MicroWakeDetector("hey_jarvis")
    }
    runs = await run_both(scene, tmp_path, detectors=detectors)
    assert runs["house"].starts_s == [], "hey_jarvis heard `okay nabu` and stayed asleep"
    [woke] = runs["kitchen"].events_of(ConversationState.CONVERSATION)
    print(f"\nokay_nabu fired {1000 * (woke.at_s - wake_end):.0f} ms after the phrase (score {woke.score:.2f})")
    assert runs["kitchen"].segments()[0][0] <= scene.marks["request"]


async def test_the_mute_closes_a_shared_microphone_for_every_agent_and_unmute_reopens_it(tmp_path: Path) -> None:
    from runtime.wake.mute import MutedAudioIn, MuteSwitch

    scene = Scene(3.0)
    mic, hub, mute = WavMic(scene.write(tmp_path / "mic.wav")), DeviceHub(), MuteSwitch()
    agents = [MutedAudioIn(hub.capture("input:0:mic", lambda: mic, block_frames=BLOCK), mute) for _ in range(2)]
    for agent in agents:
        await agent.open()
    for agent in agents:
        await agent.read()
    mute.set(True)

    async def read_once(agent: MutedAudioIn) -> None:
        await agent.read()

    async with anyio.create_task_group() as tg:
        for agent in agents:
            tg.start_soon(read_once, agent)  # each reader closes its tap and waits for the unmute
        with anyio.fail_after(5):
            while mic.is_open:
                await anyio.sleep(0.01)
        assert mic.closes == 1, "muted: the device itself is closed, for both agents"
        mute.set(False)
    assert mic.opens == 2, "unmuted: opened again, once for both"
    for agent in agents:
        await agent.close()
    assert not mic.is_open
