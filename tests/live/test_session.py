"""AgentSession against the emulator with the real google-genai SDK: turns, tools, barge-in."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runtime.audio.files import NullIn, NullOut, WavFileIn, WavFileOut
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from tests.live.conftest import Recorder, agent, running, speech_wav

TOOLS_PY = '''
import anyio

def add(a: int, b: int) -> int:
    return a + b

def broken() -> None:
    raise ValueError("no such oven")

async def slow(seconds: float = 30.0) -> str:
    await anyio.sleep(seconds)
    return "done"
'''


def tool_responses(emulator: Any) -> list[dict[str, Any]]:
    responses = []
    for record in emulator.records:
        message = record["msg"]
        body = message.get("toolResponse") or message.get("tool_response")
        if body:
            responses += body.get("functionResponses") or body.get("function_responses")
    return responses


def text_scenario(rules: list[dict[str, Any]]) -> EmulatorOptions:
    return EmulatorOptions(port=0, scenario_obj=parse_scenario({"rules": rules}))


@pytest.mark.anyio
async def test_a_text_turn(tmp_path: Path) -> None:
    events = Recorder()
    spec = agent(response="text")
    async with serve(EmulatorOptions(port=0)) as emulator, running(
        spec, emulator, tmp_path, NullIn(), NullOut(), events=events
    ) as session:
        await session.send_text("hello there")
        await events.until(lambda: "turn_complete" in [s for s, _ in events.of("state")])
    assert "".join(events.of("text")) == "You said: hello there"
    assert events.of("usage")[-1].total_tokens > 0
    assert (tmp_path / "state" / "test.json").exists()


@pytest.mark.anyio
async def test_what_a_session_and_its_tools_log_carries_its_agent_and_nothing_else_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One way for the agent's name to reach a log record: the session's context (`runtime.agentlog`)."""
    import logging

    from runtime.agentlog import CURRENT_AGENT
    from runtime.daemon.logs import AgentFilter

    caplog.handler.addFilter(AgentFilter())
    caplog.set_level(logging.INFO, logger="runtime")
    events = Recorder()
    (tmp_path / "kitchen_tools.py").write_text(TOOLS_PY)
    spec = agent(response="text", tools=[{"name": "add", "python": "kitchen_tools:add"}])
    steps = [{"tool_call": {"name": "add", "args": {"a": 2, "b": 3}}}, {"say_tool_result": "add"}]
    options = text_scenario([{"when": {"text": "add"}, "then": steps}])
    async with serve(options) as emulator, running(
        spec, emulator, tmp_path, NullIn(), NullOut(), events=events, name="pantry"
    ) as session:
        await session.send_text("add please")
        await events.until(lambda: events.states("turn_complete"))
    logging.getLogger("runtime.test").info("after the session")
    by_agent = {(r.name, r.getMessage().split(" ")[0]): r.agent for r in caplog.records}  # type: ignore[attr-defined]
    assert by_agent[("runtime.live.session", "connected")] == "pantry"
    assert by_agent[("runtime.live.tools", "tool")] == "pantry"
    assert by_agent[("runtime.test", "after")] == "" and CURRENT_AGENT.get() == ""


@pytest.mark.anyio
async def test_an_audio_turn_from_a_wav_microphone_to_a_wav_speaker(tmp_path: Path) -> None:
    speech_wav(tmp_path / "mic.wav", [("pause", 0.2), ("speech", 0.5), ("pause", 0.8)])
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"speech_transcripts": ["turn on the light"]}))
    events = Recorder()
    mic, speaker = WavFileIn(tmp_path / "mic.wav"), WavFileOut(tmp_path / "out.wav")
    async with serve(options) as emulator:
        async with running(agent(), emulator, tmp_path, mic, speaker, events=events) as session:
            await events.until(lambda: "turn_complete" in [s for s, _ in events.of("state")])
            await events.until(lambda: not speaker.playing)
        received = emulator.audio_bytes_received()
    assert ("user", "turn on the light") in events.of("transcript")
    assert "".join(text for role, text in events.of("transcript") if role == "model") == "I heard you."
    assert session.downlink.stats.audio_bytes == len("I heard you.") * 60 * 48
    gap_bytes = sum(int(gap * 24000) * 2 for gap in speaker.gaps_s)  # jitter underruns are written as silence
    assert speaker.bytes_written == session.downlink.stats.audio_bytes + gap_bytes
    assert received[: len(mic.file_pcm)] == mic.file_pcm


@pytest.fixture
def http_base() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({"path": self.path}).encode()
            self.send_response(200 if "fail" not in self.path else 500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.anyio
async def test_every_tool_kind_answers_the_model_including_failures(tmp_path: Path, http_base: str) -> None:
    (tmp_path / "kitchen_tools.py").write_text(TOOLS_PY)
    spec = agent(response="text", tools=[
        {"name": "add", "python": "kitchen_tools:add"},
        {"name": "broken", "python": "kitchen_tools:broken"},
        {"name": "slow", "python": "kitchen_tools:slow", "timeout_s": 0.2},
        {"name": "weather", "http": {"url": http_base + "/weather?city={city}"},
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "failing", "http": {"url": http_base + "/fail"}},
    ])
    calls = [("add", {"a": 2, "b": 3}), ("broken", {}), ("slow", {}), ("weather", {"city": "Oslo"}),
             ("failing", {}), ("add", {"a": "x"})]
    rules = [{"when": {"text": f"call {i}"}, "then": [{"tool_call": {"name": name, "args": args}},
                                                    {"say_tool_result": name}]}
             for i, (name, args) in enumerate(calls)]
    events = Recorder()
    async with serve(text_scenario(rules)) as emulator:
        async with running(spec, emulator, tmp_path, NullIn(), NullOut(), events=events) as session:
            for i in range(len(calls)):
                await session.send_text(f"call {i}")
                await events.until(lambda i=i: len(events.states("turn_complete")) > i)
        responses = tool_responses(emulator)
    results = [response["response"] for response in responses]
    assert results[0] == {"result": 5}
    assert results[1] == {"error": "ValueError: no such oven"}
    assert results[2] == {"error": "tool slow timed out after 0.2 s"}
    assert results[3] == {"status": 200, "body": {"path": "/weather?city=Oslo"}}
    assert results[4]["error"].startswith("HTTP 500")
    assert results[5]["error"].startswith("invalid arguments")
    assert all(response["id"] for response in responses)
    assert [outcome.ok for outcome in events.of("tool")] == [True, False, False, True, False, False]
    assert "".join(events.of("text")).startswith("5")


@pytest.mark.anyio
async def test_non_blocking_tools_carry_their_scheduling(tmp_path: Path) -> None:
    (tmp_path / "kitchen_tools.py").write_text(TOOLS_PY)
    spec = agent(response="text", tools=[
        {"name": "add", "python": "kitchen_tools:add", "behavior": "non_blocking", "scheduling": "interrupt"},
    ])
    rules = [{"when": {"text": "sum"}, "then": [{"tool_call": {"name": "add", "args": {"a": 1, "b": 1}}},
                                               {"say": "Working on it."}]}]
    events = Recorder()
    async with serve(text_scenario(rules)) as emulator:
        async with running(spec, emulator, tmp_path, NullIn(), NullOut(), events=events) as session:
            await session.send_text("sum please")
            await events.until(lambda: "2" in "".join(events.of("text")))
        responses = tool_responses(emulator)
        setup = emulator.records[0]["msg"]["setup"]
    assert responses[0]["scheduling"] == "INTERRUPT"
    declaration = setup["tools"][0]["functionDeclarations"][0]
    assert declaration["behavior"] == "NON_BLOCKING"


@pytest.mark.anyio
async def test_barge_in_cancels_a_running_tool_and_flushes_the_speaker(tmp_path: Path) -> None:
    (tmp_path / "kitchen_tools.py").write_text(TOOLS_PY)
    speech_wav(tmp_path / "mic.wav", [("pause", 0.2), ("speech", 0.4), ("pause", 1.6), ("speech", 0.4),
                                      ("pause", 1.0)])
    spec = agent(tools=[{"name": "slow", "python": "kitchen_tools:slow", "behavior": "non_blocking"}])
    scenario = {"speech_transcripts": ["start the slow thing", "stop"],
                "rules": [{"when": {"text": "slow"}, "then": [
                    {"tool_call": {"name": "slow", "args": {"seconds": 30}}},
                    {"say": "This will take a long while, please wait for me to finish talking."}]}]}
    events = Recorder()
    mic, speaker = WavFileIn(tmp_path / "mic.wav"), WavFileOut(tmp_path / "out.wav")
    async with serve(EmulatorOptions(port=0, scenario_obj=parse_scenario(scenario))) as emulator:
        async with running(spec, emulator, tmp_path, mic, speaker, events=events) as session:
            await events.until(lambda: bool(events.states("tool_cancelled")) and bool(speaker.flushes))
            cancelled_at = time.monotonic()
        responses = tool_responses(emulator)
    assert responses == []
    assert session.downlink.stats.interruptions
    # The second burst starts 2.2 s into the file; measure from then to the speaker's flush.
    assert mic.started_at is not None
    onset = mic.started_at + 2.2
    print(f"\ninterrupt-to-silence: {(speaker.flushes[0] - onset) * 1000:.1f} ms "
          "(speech onset in the microphone to the speaker flush; includes one 20 ms block and the emulator's VAD)")
    assert cancelled_at >= speaker.flushes[0]


def realtime_kinds(emulator: Any) -> list[str]:
    kinds = []
    for record in emulator.records:
        realtime = record["msg"].get("realtimeInput") or record["msg"].get("realtime_input")
        if realtime:
            kinds += [key for key in ("activityStart", "activity_start", "activityEnd", "activity_end", "audio")
                      if key in realtime]
    return [kind.replace("_s", "S").replace("_e", "E") for kind in kinds]


@pytest.mark.anyio
async def test_manual_activity_streams_only_while_talking_with_marks_around_the_audio(tmp_path: Path) -> None:
    speech_wav(tmp_path / "mic.wav", [("speech", 3.0)])
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"speech_transcripts": ["lights off"]}))
    events = Recorder()
    mic = WavFileIn(tmp_path / "mic.wav")
    async with serve(options) as emulator, running(
        agent(activity={"mode": "manual"}), emulator, tmp_path, mic, NullOut(), events=events
    ) as session:
        session.set_talking(True)
        await events.until(lambda: session.uplink.sent_frames >= 25)
        session.set_talking(False)
        await events.until(lambda: "turn_complete" in [s for s, _ in events.of("state")])
        kinds = realtime_kinds(emulator)
        setup = emulator.records[0]["msg"]["setup"]
    detection = setup["realtimeInputConfig"].get("automaticActivityDetection") or setup["realtimeInputConfig"].get(
        "automatic_activity_detection")
    assert detection["disabled"] is True
    assert kinds[0] == "activityStart" and kinds[-1] == "activityEnd"
    assert set(kinds[1:-1]) == {"audio"} and len(kinds) - 2 >= 25
    assert ("user", "lights off") in events.of("transcript")
