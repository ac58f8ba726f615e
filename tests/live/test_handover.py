"""Seamless handover: goAway and drops while the microphone streams, every input byte exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.audio.files import WavFileIn, WavFileOut
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from tests.live.conftest import Recorder, agent, running, speech_wav

TOOLS_PY = '''
def kitchen_temperature(room: str = "kitchen") -> dict:
    return {"room": room, "celsius": 21}
'''

SCENARIO = {
    "speech_transcripts": ["hello", "what is the temperature", "thanks", "hello again", "temperature please"],
    "rules": [
        {"when": {"text": "temperature"},
         "then": [{"tool_call": {"name": "kitchen_temperature", "args": {"room": "kitchen"}}},
                  {"say_tool_result": "kitchen_temperature"}]},
        {"when": {"text": ""}, "then": [{"say": "OK."}]},
    ],
}


@pytest.mark.anyio
async def test_ten_handovers_with_a_tool_call_lose_and_repeat_no_microphone_byte(tmp_path: Path) -> None:
    pattern = [("pause", 0.3)]
    for _ in range(5):
        pattern += [("speech", 0.6), ("pause", 1.6)]
    speech_wav(tmp_path / "mic.wav", pattern)
    (tmp_path / "kitchen_tools.py").write_text(TOOLS_PY)
    spec = agent(
        audio={"input": {"device": "file:mic.wav"}, "output": {"device": "file:out.wav"}},
        tools=[{"name": "kitchen_temperature", "python": "kitchen_tools:kitchen_temperature"}],
    )
    options = EmulatorOptions(port=0, go_away_after_s=1.0, connection_limit_s=3.0,
                              scenario_obj=parse_scenario(SCENARIO))
    events = Recorder()
    mic, speaker = WavFileIn(tmp_path / "mic.wav"), WavFileOut(tmp_path / "out.wav")
    async with serve(options) as emulator:
        async with running(spec, emulator, tmp_path, mic, speaker, events=events) as session:
            await events.until(lambda: len(session.stats.handovers) >= 10 and mic.finished.is_set()
                               and session.uplink.sent_bytes >= len(mic.file_pcm), timeout_s=40)
        received = emulator.audio_bytes_received()
        connections = emulator.connections
    sent = mic.file_pcm
    assert received[: len(sent)] == sent
    assert received[len(sent):] == bytes(len(received) - len(sent))
    assert connections >= 11
    assert session.uplink.dropped_frames == 0
    tools = events.of("tool")
    assert tools and all(outcome.ok for outcome in tools)
    handover_times = [t for t, kind, value in events.entries if kind == "state" and value[0] == "handover"]
    tool_times = [t for t, kind, _ in events.entries if kind == "tool"]
    assert any(handover_times[0] < t < handover_times[-1] for t in tool_times)
    assert speaker.bytes_written > 0
    handovers = session.stats.handovers
    print("\nhandover reasons:", sorted(set(events.states("handover"))))
    print(f"\nhandovers: {len(handovers)}, mic switch time mean {sum(handovers) / len(handovers) * 1000:.1f} ms, "
          f"max {max(handovers) * 1000:.1f} ms; speaker gaps {[round(g * 1000, 1) for g in speaker.gaps_s]} ms; "
          f"underruns {speaker.underruns}")


@pytest.mark.anyio
async def test_goaway_during_a_reply_waits_for_its_end_so_the_speaker_never_pauses(tmp_path: Path) -> None:
    from runtime.audio.files import NullIn

    reply = "This answer is long enough to be talking when the server says go away."
    scenario = parse_scenario({"rules": [{"when": {"text": "talk"}, "then": [{"say": reply}]}]})
    options = EmulatorOptions(port=0, go_away_after_s=0.5, scenario_obj=scenario)  # timeLeft 50 s
    events = Recorder()
    speaker = WavFileOut(tmp_path / "out.wav", prebuffer_ms=60)
    async with serve(options) as emulator, running(
        agent(), emulator, tmp_path, NullIn(), speaker, events=events
    ) as session:
        await session.send_text("talk to me")
        await events.until(lambda: len(session.stats.handovers) >= 1, timeout_s=15)
        states = [(t, value[0]) for t, kind, value in events.entries if kind == "state"]
        turn_done = next(t for t, state in states if state == "turn_complete")
        handover = next(t for t, state in states if state == "handover")
        go_away_sent = next(r["mono"] for r in emulator.sent if "goAway" in r["msg"])
    assert go_away_sent < turn_done <= handover
    assert events.states("handover") == ["resumable point after goAway"]
    assert session.downlink.stats.audio_bytes == len(reply) * 60 * 48
    assert not speaker.flushes  # nothing of the reply was cut; jitter gaps (if any) are printed below
    print(f"\nreply of {len(reply) * 0.06:.1f} s: goAway {1000 * (turn_done - go_away_sent):.0f} ms before the turn "
          f"ended, handover {1000 * (handover - turn_done):.0f} ms after it; speaker gaps {speaker.gaps_s}")
