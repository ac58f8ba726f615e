"""The emulator speaks the official wire format: server messages parse strictly as the v1beta protobuf types.

Every test in this folder checks what crossed the wire when its emulator stops (helpers.emulating); this file
makes sure every kind of server message is produced at least once and checks the client-side reader.
"""

from __future__ import annotations

import pytest
from google.genai import types

from runtime.emulator import parse_scenario
from runtime.emulator.wire import (
    ProtocolViolation,
    camel_case,
    clip_reason,
    decode_bytes,
    duration,
    normalize,
    parse_client_message,
)
from runtime.emulator.wire_schema import ENUMS, MESSAGES
from tests.emulator import generate_wire_schema
from tests.emulator.helpers import (
    check_fidelity,
    collect_until,
    generation_complete,
    live,
    send_audio,
    sent_kinds,
    silence,
    speech,
    turn_complete,
)

pytestmark = pytest.mark.anyio

EVERY_KIND = {
    "setupComplete",
    "serverContent",
    "serverContent.modelTurn",
    "serverContent.generationComplete",
    "serverContent.turnComplete",
    "serverContent.interrupted",
    "serverContent.inputTranscription",
    "serverContent.outputTranscription",
    "usageMetadata",
    "toolCall",
    "toolCallCancellation",
    "goAway",
    "sessionResumptionUpdate",
}


async def test_every_server_message_kind_parses_strictly_as_the_official_type() -> None:
    scenario = parse_scenario(
        {
            "speech_transcripts": ["call the tool", "hello", "stop"],
            "rules": [
                {
                    "when": {"text": "tool"},
                    "then": [{"say": "Calling."}, {"tool_call": {"name": "f", "args": {"a": 1}}}],
                },
                {"when": {"text": "hello"}, "then": [{"say": "A rather long answer that will be cut off."}]},
            ],
        }
    )
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        session_resumption=types.SessionResumptionConfig(),
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="f", description="f")])],
    )
    async with live(config, scenario_obj=scenario, go_away_after_s=0.05) as (emulator, session):
        await send_audio(session, speech(0.3) + silence(0.6))
        await collect_until(session, lambda m: m.tool_call is not None)
        await send_audio(session, speech(0.3))  # barge-in: cancels the pending call
        await collect_until(session, lambda m: m.tool_call_cancellation is not None)
        await send_audio(session, silence(0.6))
        await collect_until(session, lambda m: bool(m.server_content and m.server_content.model_turn))
        await send_audio(session, speech(0.3))  # interrupts "hello"'s answer: its turnComplete comes at once
        await send_audio(session, silence(0.6))
        await collect_until(session, generation_complete)  # the next reply, to its end
        await collect_until(session, turn_complete)
    assert set(sent_kinds(emulator)) >= EVERY_KIND
    check_fidelity(emulator)
    assert len(emulator.records) > 10


def test_the_generated_field_table_matches_the_installed_protos() -> None:
    messages: dict[str, dict[str, str]] = {}
    enums: dict[str, list[str]] = {}
    generate_wire_schema.walk(
        generate_wire_schema.generative_service.BidiGenerateContentClientMessage.pb().DESCRIPTOR, messages, enums
    )
    for name, fields in generate_wire_schema.EXTRAS.items():
        messages.setdefault(name, {}).update(fields)
    assert messages == MESSAGES
    assert enums == ENUMS


def test_snake_case_and_camel_case_names_both_read_to_camel_case() -> None:
    message = parse_client_message(
        '{"tool_response": {"function_responses": [{"id": "1", "name": "f", "response": {"x": 1},'
        ' "will_continue": true, "scheduling": "WHEN_IDLE"}]}}'
    )
    assert message == {
        "toolResponse": {
            "functionResponses": [
                {"id": "1", "name": "f", "response": {"x": 1}, "willContinue": True, "scheduling": "WHEN_IDLE"}
            ]
        }
    }


@pytest.mark.parametrize(
    ("frame", "named"),
    [
        ('{"setup": {"model": "models/m", "colour": 1}}', '"colour"'),
        ('{"realtimeInput": {"audio": {"data": "!!!", "mimeType": "audio/pcm"}}}', "realtimeInput.audio.data"),
        ('{"setup": {"generationConfig": {"temperature": "hot"}}}', "setup.generationConfig.temperature"),
        ('{"setup": {"realtimeInputConfig": {"activityHandling": "SOMETIMES"}}}', "activityHandling"),
        ('{"setup": {}, "realtimeInput": {}}', "Exactly one"),
        ("not json", "Invalid JSON"),
    ],
)
def test_invalid_client_messages_are_refused_with_1007_naming_the_field(frame: str, named: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        parse_client_message(frame)
    assert caught.value.code == 1007
    assert named in caught.value.reason


def test_wire_helpers() -> None:
    assert camel_case("will_continue") == "willContinue"
    assert decode_bytes("-_8") == decode_bytes("+/8=") == b"\xfb\xff"
    assert duration(50) == "50s" and duration(1.5) == "1.5s" and duration(-1) == "0s"
    assert len(clip_reason("é" * 100).encode()) <= 123


def test_int64_fields_accept_strings_like_protobuf_json() -> None:
    setup = normalize(
        {"model": "models/m", "generationConfig": {"seed": "7", "topK": 3}}, "BidiGenerateContentSetup", ""
    )
    assert setup["generationConfig"] == {"seed": 7, "topK": 3}
