"""The wake gate: nothing leaves before the wake word, streaming stops on time, the lifecycle is told.

The detector here is the deterministic tone detector behind the real `WakeDetector` interface (a steady
1 kHz tone plays the wake word); `test_models.py` shows the real models on spoken phrases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.wake.earcons import builtin_earcon
from runtime.wake.gate import Earcons, WakeGate
from runtime.wake.lifecycle import ConversationState
from tests.wake.gating import run_gate
from tests.wake.scenes import BLOCK, RATE, ClockedSpeaker, EndOfAudio, Scene, WavMic, babble, tone, tone_detector

pytestmark = pytest.mark.anyio

LISTENING, CONVERSATION = ConversationState.LISTENING, ConversationState.CONVERSATION
TIMEOUT_S = 2.0
BLOCK_S = BLOCK / RATE


def kitchen_scene() -> Scene:
    """Talk before the wake word, the wake word, a request, silence, more talk while asleep."""
    scene = Scene(14.0)
    scene.add(1.0, babble(2.0), "chatter")
    scene.add(4.0, tone(0.4), "wake")
    scene.add(4.6, babble(1.4, seed=2), "request")
    scene.add(10.0, babble(2.0, seed=3), "late_chatter")
    return scene


def gate_for(tmp_path: Path, scene: Scene, **options: object) -> tuple[WakeGate, WavMic]:
    mic = WavMic(scene.write(tmp_path / "mic.wav"))
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=TIMEOUT_S, **options)  # type: ignore[arg-type]
    return gate, mic


async def test_not_one_block_is_returned_before_the_wake_word(tmp_path: Path) -> None:
    scene = kitchen_scene()
    gate, _ = gate_for(tmp_path, scene)
    run = await run_gate(gate, scene)
    wake = run.events_of(CONVERSATION)[0]
    assert run.returned_before(wake) == 0
    assert scene.marks["wake"] + 0.1 <= wake.at_s <= scene.marks["wake_end"] + 0.05
    first_start = run.starts_s[0]
    print(f"\nwake at {wake.at_s:.3f} s of audio; first block sent starts at {first_start:.3f} s (pre-roll)")
    assert wake.at_s - 0.3 - BLOCK_S <= first_start <= wake.at_s - 0.3 + BLOCK_S
    assert all(start >= scene.marks["chatter_end"] for start in run.starts_s)


async def test_streaming_stops_within_100_ms_of_audio_after_the_idle_timeout(tmp_path: Path) -> None:
    scene = kitchen_scene()
    gate, _ = gate_for(tmp_path, scene)
    run = await run_gate(gate, scene)
    [(_, end)] = run.segments()
    deadline_s = scene.marks["request_end"] + TIMEOUT_S
    idle = run.events_of(LISTENING)[0]
    print(f"\nlast audio sent ends {1000 * (end - deadline_s):+.0f} ms after the idle deadline")
    assert idle.reason == "idle"
    assert deadline_s - 0.1 <= end <= deadline_s + 0.1
    assert deadline_s <= idle.at_s <= deadline_s + 0.1
    assert run.returned_before(idle) == len(run.starts_s)
    assert end < scene.marks["late_chatter"]


async def test_the_model_speaking_keeps_the_conversation_open(tmp_path: Path) -> None:
    scene = kitchen_scene()
    mic = WavMic(scene.write(tmp_path / "mic.wav"))
    speaker = ClockedSpeaker(mic, spans=[(6.5, 7.5)])
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=TIMEOUT_S, earcons=Earcons(speaker))
    run = await run_gate(gate, scene)
    [(_, end)] = run.segments()
    assert 7.5 + TIMEOUT_S - 0.1 <= end <= 7.5 + TIMEOUT_S + 0.1


async def test_earcons_play_when_the_agent_wakes_and_when_it_stops_listening(tmp_path: Path) -> None:
    scene = kitchen_scene()
    mic = WavMic(scene.write(tmp_path / "mic.wav"))
    speaker = ClockedSpeaker(mic)
    start, end = builtin_earcon("start"), builtin_earcon("end")
    gate = WakeGate(mic, tone_detector(), idle_timeout_s=TIMEOUT_S, earcons=Earcons(speaker, start, end))
    run = await run_gate(gate, scene)
    wake, idle = run.events_of(CONVERSATION)[0], run.events_of(LISTENING)[0]
    assert [(round(at, 2), pcm) for at, pcm in speaker.writes] == [
        (round(wake.at_s, 2), start),
        (round(idle.at_s, 2), end),
    ]


async def test_it_listens_again_after_a_conversation_and_wakes_a_second_time(tmp_path: Path) -> None:
    scene = Scene(12.0)
    scene.add(1.0, tone(0.4), "first")
    scene.add(1.6, babble(1.0), "first_request")
    scene.add(6.0, babble(0.5, seed=4), "asleep_talk")
    scene.add(7.0, tone(0.4), "second")
    scene.add(7.6, babble(1.0, seed=5), "second_request")
    gate, _ = gate_for(tmp_path, scene)
    run = await run_gate(gate, scene)
    states = [(event.state, event.reason) for event, _ in run.events]
    assert states == [(CONVERSATION, "wake"), (LISTENING, "idle"), (CONVERSATION, "wake"), (LISTENING, "idle")]
    first, second = run.segments()
    assert first[1] <= scene.marks["asleep_talk"] and second[0] >= scene.marks["asleep_talk_end"]


async def test_the_session_can_end_a_conversation_at_once(tmp_path: Path) -> None:
    scene = kitchen_scene()
    holder: list[WakeGate] = []

    def session_says_goodbye(now_s: float) -> None:
        if now_s >= 5.0:
            holder[0].end_conversation()

    mic = WavMic(scene.write(tmp_path / "mic.wav"), on_block=session_says_goodbye)
    holder.append(WakeGate(mic, tone_detector(), idle_timeout_s=TIMEOUT_S))
    run = await run_gate(holder[0], scene)
    [(_, end)] = run.segments()
    assert end <= 5.0
    assert [event.reason for event in run.events_of(LISTENING)] == ["ended"]


async def test_keep_awake_restarts_the_idle_countdown(tmp_path: Path) -> None:
    scene = kitchen_scene()
    holder: list[WakeGate] = []

    def tool_call_running(now_s: float) -> None:
        if abs(now_s - 7.5) < 1e-6:
            holder[0].keep_awake()

    mic = WavMic(scene.write(tmp_path / "mic.wav"), on_block=tool_call_running)
    holder.append(WakeGate(mic, tone_detector(), idle_timeout_s=TIMEOUT_S))
    run = await run_gate(holder[0], scene)
    [(_, end)] = run.segments()
    assert 7.5 + TIMEOUT_S - 0.1 <= end <= 7.5 + TIMEOUT_S + 0.1


async def test_status_text_follows_the_state(tmp_path: Path) -> None:
    scene = kitchen_scene()
    seen: list[str] = []
    gate, _ = gate_for(tmp_path, scene)
    gate.add_listener(lambda event: seen.append(gate.status_text()))
    assert gate.status_text() == "listening for tone"
    await run_gate(gate, scene)
    assert seen == ["in conversation", "listening for tone"]


async def test_a_gate_closed_mid_conversation_listens_again_when_reopened(tmp_path: Path) -> None:
    scene = kitchen_scene()
    gate, mic = gate_for(tmp_path, scene)
    events: list[str] = []
    gate.add_listener(lambda event: events.append(event.reason))
    await gate.open()
    while gate.state is not CONVERSATION:
        await gate.read()
    await gate.close()
    assert not mic.is_open
    await gate.open()
    assert gate.state is LISTENING and events == ["wake", "reopened"]
    with pytest.raises(EndOfAudio):  # the rest of the request and the chatter: nothing without a new wake word
        await gate.read()
