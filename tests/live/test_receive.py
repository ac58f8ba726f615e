"""The runtime's parser of server messages gives exactly what the SDK's own `receive()` gives, message for
message; a malformed audio part is dropped, counted and logged once per connection."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest
from google.genai import errors, types

from runtime.emulator import parse_scenario
from runtime.live.receive import MalformedAudioError, MalformedMessage, ServerMessageParser, decode_base64
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
AUDIO_MIME = "audio/pcm;rate=24000"


@dataclass
class Counts:
    malformed_audio_parts: int = 0


def parser() -> tuple[ServerMessageParser, Counts]:
    counts = Counts()
    return ServerMessageParser(counts), counts


def as_sdk_gives_it(message: types.LiveServerMessage) -> types.LiveServerMessage | bytes:
    """The SDK's message, with an audio-only one reduced to its PCM as the fast path gives it."""
    content = message.server_content
    if content is not None and content.model_turn is not None and set(message.model_fields_set) == {"server_content"}:
        parts = content.model_turn.parts or []
        if set(content.model_fields_set) == {"model_turn"} and parts and all(p.inline_data for p in parts):
            return b"".join(p.inline_data.data or b"" for p in parts if p.inline_data)
    return message


def audio_message(*datas: Any, **content: Any) -> dict[str, Any]:
    parts = [{"inlineData": {"mimeType": AUDIO_MIME, "data": data}} for data in datas]
    return {"serverContent": {"modelTurn": {"role": "model", "parts": parts}, **content}}


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
    reader, counts = parser()
    ours = [reader.parse(frame) for frame in frames[: len(seen)]]
    assert sum(isinstance(message, bytes) for message in ours) >= 10, "the voice took the fast path"
    assert ours == [as_sdk_gives_it(message) for message in seen]
    assert counts.malformed_audio_parts == 0


BASE64_CASES = [
    "AAAA", "AA", "AA=", "AA==", "AAA", "AAA=", "-_8", "+/8=", "-_-_", "+/+/", "", "QUJDREVG",
    # refused by pydantic-core (and so by the SDK): each must be refused here too
    "A", "AB==", "AAB=", "-/+_", "AAAA====", "AAA=A", "AA=A", "=", "!!!!", "QUJD\nREVG", " AAAA", "€€€€",
    "data:audio/pcm;base64,AAAA", "%%%",
]


@pytest.mark.parametrize("text", BASE64_CASES)
def test_base64_is_read_exactly_as_the_sdk_reads_it(text: str) -> None:
    try:
        expected: bytes | None = types.Blob.model_validate({"data": text}).data
    except pydantic.ValidationError:
        expected = None
    try:
        ours: bytes | None = decode_base64(text)
    except MalformedAudioError:
        ours = None
    assert ours == expected


def test_audio_in_either_base64_alphabet_decodes_like_the_sdk() -> None:
    pcm = bytes(range(240, 256)) * 3
    reader, _ = parser()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        data = encode(pcm).decode()
        assert reader.parse(json.dumps(audio_message(data, data.rstrip("=")))) == pcm * 2


@pytest.mark.parametrize(
    "message",
    [
        {"serverContent": {"modelTurn": {"parts": [{"text": "hi"}]}}},
        {"serverContent": {"modelTurn": {"parts": []}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AA=="}}]}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": AUDIO_MIME}}]}}},
        {"serverContent": {"turnComplete": True, "modelTurn": {"parts": []}}},
        {"serverContent": {"turnComplete": True}},
        {"usageMetadata": {}, "serverContent": {}},
        [],
    ],
)
def test_anything_but_plain_audio_goes_to_the_sdk(message: object) -> None:
    reader, counts = parser()
    assert isinstance(reader.parse(json.dumps(message)), types.LiveServerMessage)
    assert counts.malformed_audio_parts == 0


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"{not json", MalformedMessage),
        (b"\xff\xfe", MalformedMessage),
        (b"[" * 100_000, MalformedMessage),
        (b'"hello"', MalformedMessage),
        (b"5", MalformedMessage),
        (b'{"serverContent": null}', MalformedMessage),
        (b'{"serverContent": {"modelTurn": {"parts": "x"}}}', MalformedMessage),
        (b'{"serverContent": {"modelTurn": {"role": 5, "parts": [{"text": "x"}]}}}', MalformedMessage),
        (b'{"code": 503, "message": "unavailable"}', errors.ServerError),
    ],
)
def test_frames_the_sdk_refuses_are_malformed_messages_and_error_objects_stay_api_errors(
    frame: bytes, error: type[Exception]
) -> None:
    reader, counts = parser()
    with pytest.raises(error):
        reader.parse(frame)
    assert counts.malformed_audio_parts == 0


def test_a_malformed_audio_part_is_dropped_counted_and_logged_once_per_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="runtime.live.receive")
    good = base64.b64encode(b"\x01\x00\x02\x00").decode()
    first_connection, counts = parser()
    assert first_connection.parse(json.dumps(audio_message(good, "!!!!", good))) == b"\x01\x00\x02\x00" * 2
    assert first_connection.parse(json.dumps(audio_message(5))) == b""
    assert first_connection.parse(json.dumps(audio_message("AB=="))) == b""
    assert counts.malformed_audio_parts == 3
    second_connection = ServerMessageParser(counts)
    assert second_connection.parse(json.dumps(audio_message("A"))) == b""
    assert counts.malformed_audio_parts == 4
    warnings = [record for record in caplog.records if "malformed audio part" in record.getMessage()]
    assert len(warnings) == 2, "one line per connection"
    assert "!!!!" not in caplog.text, "the data itself is never logged"


def test_a_malformed_audio_part_does_not_take_the_rest_of_its_message_with_it() -> None:
    reader, counts = parser()
    good = base64.b64encode(b"\x05\x00").decode()
    message = reader.parse(json.dumps(audio_message(good, "%%%", turnComplete=True)))
    assert isinstance(message, types.LiveServerMessage) and message.server_content is not None
    assert message.server_content.turn_complete is True
    parts = message.server_content.model_turn.parts or []  # type: ignore[union-attr]
    assert [part.inline_data.data for part in parts if part.inline_data] == [b"\x05\x00"]
    assert counts.malformed_audio_parts == 1
