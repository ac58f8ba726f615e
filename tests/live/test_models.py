"""The runtime's sessions on every current model of the catalogue, against the emulator following that model's
rules: an agent talks, takes typed text, calls tools; a text agent on a model that only speaks gets the output
transcription as its text and plays nothing; audio riding with other fields plays exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runtime.agentfile import catalogue
from runtime.audio.files import NullIn, WavFileIn, WavFileOut
from runtime.emulator import EmulatorOptions, parse_scenario, serve
from runtime.live.endpoint import Endpoint
from runtime.live.sdk import FastPaths
from tests.live.conftest import Recorder, agent, running, speech_wav

pytestmark = pytest.mark.anyio

CURRENT = catalogue.current().ids("current")
"""Every model the catalogue lists as current today (`runtime models`)."""
TOOLS_PY = "def add(a: int, b: int) -> int:\n    return a + b\n"
ADD_RULE = {"when": {"text": "sum"}, "then": [{"tool_call": {"name": "add", "args": {"a": 2, "b": 3}}},
                                               {"say_tool_result": "add"}]}


def sent_audio_bytes(emulator: Any) -> int:
    """Audio bytes of the model's turns the emulator put on the wire."""
    from runtime.emulator.wire import decode_bytes

    total = 0
    for entry in emulator.sent:
        for part in entry["msg"].get("serverContent", {}).get("modelTurn", {}).get("parts", []):
            if "inlineData" in part:
                total += len(decode_bytes(part["inlineData"]["data"]))
    return total


def test_the_catalogue_lists_current_models() -> None:
    assert "gemini-3.1-flash-live-preview" in CURRENT and len(CURRENT) >= 3


@pytest.mark.parametrize("model", CURRENT)
async def test_an_agent_talks(tmp_path: Path, model: str) -> None:
    speech_wav(tmp_path / "mic.wav", [("pause", 0.2), ("speech", 0.5), ("pause", 0.8)])
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"speech_transcripts": ["turn on the light"]}))
    events = Recorder()
    mic, speaker = WavFileIn(tmp_path / "mic.wav"), WavFileOut(tmp_path / "out.wav")
    async with serve(options) as emulator:
        async with running(agent(model=model), emulator, tmp_path, mic, speaker, events=events) as session:
            await events.until(lambda: bool(events.states("turn_complete")), timeout_s=20)
            await events.until(lambda: not speaker.playing)
        sent = sent_audio_bytes(emulator)
    assert ("user", "turn on the light") in events.of("transcript")
    assert "".join(text for role, text in events.of("transcript") if role == "model") == "I heard you."
    assert session.downlink.stats.audio_bytes == sent == len("I heard you.") * 60 * 48  # every byte, once
    gap_bytes = sum(int(gap * 24000) * 2 for gap in speaker.gaps_s)
    assert speaker.bytes_written == sent + gap_bytes


@pytest.mark.parametrize("model", CURRENT)
async def test_a_text_agent_gets_the_transcription_as_its_text_and_plays_nothing(tmp_path: Path, model: str) -> None:
    events = Recorder()
    speaker = WavFileOut(tmp_path / "out.wav")
    async with serve(EmulatorOptions(port=0)) as emulator:
        async with running(agent(model=model, response="text"), emulator, tmp_path, NullIn(), speaker,
                           events=events) as session:
            await session.send_text("hello there")
            await events.until(lambda: bool(events.states("turn_complete")), timeout_s=20)
            await session.send_text("and again")
            await events.until(lambda: len(events.states("turn_complete")) == 2, timeout_s=20)
        setup = emulator.records[0]["msg"]["setup"]
        typed = [record["msg"] for record in emulator.records[1:]]
    assert "".join(events.of("text")) == "You said: hello thereYou said: and again"
    assert not [text for role, text in events.of("transcript") if role == "model"]  # the text, not a transcript
    assert speaker.bytes_written == 0 and session.downlink.stats.audio_bytes == 0
    assert session.downlink.stats.discarded_audio_bytes > 0
    assert setup["generationConfig"]["responseModalities"] == ["AUDIO"] and "outputAudioTranscription" in setup
    assert typed == [{"realtime_input": {"text": "hello there"}}, {"realtime_input": {"text": "and again"}}]
    info = catalogue.lookup(model)
    assert info is not None
    usage = events.of("usage")
    assert len(usage) == 2, "one usage per turn: a usage-only message before a reply is not counted again"
    assert all(entry.prompt_tokens > info.output.prompt_token_overhead for entry in usage)


@pytest.mark.parametrize("model", CURRENT)
async def test_an_agent_calls_tools(tmp_path: Path, model: str) -> None:
    info = catalogue.lookup(model)
    assert info is not None
    (tmp_path / "helper_tools.py").write_text(TOOLS_PY)
    tool: dict[str, Any] = {"name": "add", "python": "helper_tools:add"}
    if "blocking" not in info.tools.behaviors:  # the agent file a `runtime validate` would accept
        tool["behavior"] = "non_blocking"
    events = Recorder()
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"rules": [ADD_RULE]}))
    async with serve(options) as emulator:
        async with running(agent(model=model, response="text", tools=[tool]), emulator, tmp_path, NullIn(),
                           WavFileOut(tmp_path / "out.wav"), events=events) as session:
            await session.send_text("what is the sum")
            await events.until(lambda: "5" in "".join(events.of("text")), timeout_s=20)
        declaration = emulator.records[0]["msg"]["setup"]["tools"][0]["functionDeclarations"][0]
    assert [(outcome.name, outcome.result) for outcome in events.of("tool")] == [("add", {"result": 5})]
    assert "".join(events.of("text")).endswith("5")
    expected = {"blocking": "BLOCKING", "non_blocking": "NON_BLOCKING"}[tool.get("behavior", "blocking")]
    if info.tools.default_behavior == "blocking" and expected == "BLOCKING":
        assert "behavior" not in declaration  # the default: nothing to say
    else:
        assert declaration["behavior"] == expected
    assert session.downlink.stats.audio_bytes == 0


@pytest.mark.parametrize("fast_paths", [FastPaths(), FastPaths(receive=False, send=False)], ids=["fast", "public"])
async def test_audio_riding_with_transcription_and_the_turn_end_plays_exactly_once(
    tmp_path: Path, fast_paths: FastPaths
) -> None:
    """On 3.x one message holds audio, its transcription, and the last one also the turn's end and usage."""
    reply = "Several parts and fields in one message."
    options = EmulatorOptions(port=0, scenario_obj=parse_scenario({"rules": [{"when": {"text": "go"},
                                                                             "then": [{"say": reply}]}]}))
    events = Recorder()
    speaker = WavFileOut(tmp_path / "out.wav")
    async with serve(options) as emulator:
        endpoint = Endpoint(base_url=emulator.base_url, ca_file=emulator.ca_file, api_key="test-key",
                            fast_paths=fast_paths)
        async with running(agent(model="gemini-3.1-flash-live-preview"), emulator, tmp_path, NullIn(), speaker,
                           events=events, endpoint=endpoint) as session:
            await session.send_text("go")
            await events.until(lambda: bool(events.states("turn_complete")), timeout_s=20)
            await events.until(lambda: not speaker.playing)
        wire = [entry["msg"] for entry in emulator.sent if "serverContent" in entry["msg"]]
    assert any({"modelTurn", "outputTranscription"} <= set(message["serverContent"]) for message in wire)
    assert {"modelTurn", "turnComplete"} <= set(wire[-1]["serverContent"])
    assert session.downlink.stats.audio_bytes == len(reply) * 60 * 48 == sent_audio_bytes(emulator)
    assert speaker.bytes_written == len(reply) * 60 * 48 + sum(int(gap * 24000) * 2 for gap in speaker.gaps_s)
    assert "".join(text for role, text in events.of("transcript") if role == "model") == reply
    assert session.downlink.stats.turns == 1 and len(events.of("usage")) == 1
