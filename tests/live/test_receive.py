"""The receive fast path gives exactly what the SDK's own `receive()` gives, message for message."""

from __future__ import annotations

import base64
import json

import pytest
from google.genai import types

from runtime.emulator import parse_scenario
from runtime.live.receive import audio_only, parse
from tests.emulator.helpers import collect_until, live, turn_complete

SCENARIO = parse_scenario(
    {
        "rules": [
            {
                "when": {"text": "timer"},
                "then": [{"tool_call": {"name": "set_timer", "args": {"minutes": 5}}}, {"say": "Your timer is set."}],
            },
        ]
    }
)
CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    output_audio_transcription=types.AudioTranscriptionConfig(),
    session_resumption=types.SessionResumptionConfig(),
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="set_timer", description="Set a timer.")])],
)


def as_sdk_gives_it(message: types.LiveServerMessage) -> types.LiveServerMessage | bytes:
    """The SDK's message, with an audio-only one reduced to its PCM as the fast path gives it."""
    content = message.server_content
    if content is not None and content.model_turn is not None and set(message.model_fields_set) == {"server_content"}:
        parts = content.model_turn.parts or []
        if set(content.model_fields_set) == {"model_turn"} and all(p.inline_data for p in parts):
            return b"".join(p.inline_data.data or b"" for p in parts if p.inline_data)
    return message


@pytest.mark.anyio
async def test_every_message_of_a_conversation_parses_as_the_sdk_parses_it() -> None:
    async with live(CONFIG, scenario_obj=SCENARIO) as (emulator, session):
        await session.send_realtime_input(text="set a timer")
        seen = await collect_until(session, lambda m: m.tool_call is not None)
        call = seen[-1].tool_call.function_calls[0]  # type: ignore[union-attr,index]
        await session.send_tool_response(
            function_responses=[types.FunctionResponse(id=call.id, name=call.name, response={"ok": True})]
        )
        seen += await collect_until(session, turn_complete)
        frames = [json.dumps(entry["msg"]) for entry in emulator.sent[1:]]  # setupComplete is read by connect()
    ours = [parse(frame) for frame in frames[: len(seen)]]
    assert sum(isinstance(message, bytes) for message in ours) >= 10, "the voice took the fast path"
    assert ours == [as_sdk_gives_it(message) for message in seen]


def test_audio_in_either_base64_alphabet_decodes_like_pydantic() -> None:
    pcm = bytes(range(240, 256)) * 3
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": encode(pcm).decode()}}
        assert audio_only({"serverContent": {"modelTurn": {"parts": [part, part]}}}) == pcm * 2


@pytest.mark.parametrize(
    "message",
    [
        {"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}},
        {"serverContent": {"modelTurn": {"parts": []}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AA=="}}]}}},
        {"serverContent": {"turnComplete": True, "modelTurn": {"parts": []}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": 5}}]}}},
        {"usageMetadata": {}, "serverContent": {}},
        ["serverContent"],
        "text",
    ],
)
def test_anything_but_plain_audio_goes_to_the_sdk(message: object) -> None:
    assert audio_only(message) is None


def test_frames_that_are_not_json_or_not_base64_are_value_errors() -> None:
    with pytest.raises(ValueError, match="Failed to parse"):
        parse(b"{not json")
    bad = {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": "A"}}]}}}
    with pytest.raises(ValueError):
        parse(json.dumps(bad))
